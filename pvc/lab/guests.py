"""The lab's VMs: tiny ticking TCG guests, defined and started through pvc jobs.

Never through libvirt directly: ``up --vms N`` is the first real user of ``virt.define`` and
``virt.start`` on every node, through the master, the way an operator would do it. VM ``vmK``
goes to node ``K mod nodes`` (vm1 on hv1, vm2 on hv2, ...); all define jobs are published at once,
then all start jobs.

Example::

    with Client(master.config_dir) as client:
        placed = create(client, ["hv1", "hv2"], count=4)   # [Vm("vm1", "hv1"), ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pvc.client import Client
from pvc.lab import guestkernel
from pvc.lab.errors import LabError
from pvc.lab.state import Vm

MEMORY_MIB = 128
JOB_TIMEOUT = 60.0


def spec(name: str) -> dict[str, Any]:
    """A ``virt.define`` spec: 128 MiB, 1 vCPU, TCG, direct kernel boot, no disk or NIC."""
    kernel, initrd = guestkernel.ensure()
    return {"name": name, "vcpus": 1, "memory": MEMORY_MIB, "type": "qemu", "kernel": str(kernel),
            "initrd": str(initrd), "cmdline": "console=ttyS0 quiet panic=-1", "migration": "live"}


def placement(nodes: Sequence[str], count: int) -> list[Vm]:
    return [Vm(name=f"vm{k}", node=nodes[(k - 1) % len(nodes)]) for k in range(1, count + 1)]


def create(client: Client, nodes: Sequence[str], count: int) -> list[Vm]:
    """Define and start ``count`` guests spread over ``nodes``; raises naming the first failure."""
    vms = placement(nodes, count)
    _all(client, "virt.define", [(vm, [], spec(vm.name)) for vm in vms])
    _all(client, "virt.start", [(vm, [vm.name], {}) for vm in vms])
    return vms


def _all(client: Client, fun: str, calls: list[tuple[Vm, list[Any], dict[str, Any]]]) -> None:
    """Publish one job per call without waiting in between, then check every return."""
    jids = {client.run_async([vm.node], fun, args, kwargs, timeout=JOB_TIMEOUT): vm for vm, args, kwargs in calls}
    results = client.collect(list(jids), timeout=JOB_TIMEOUT + 5)
    for jid, vm in jids.items():
        result = results[jid]
        ret = result.returns.get(vm.node)
        if ret is None:
            raise LabError(f"{fun} {vm.name} on {vm.node}: no return ({result.missing.get(vm.node, 'timed out')})")
        if not ret.ok:
            raise LabError(f"{fun} {vm.name} on {vm.node}: {ret.error_type}: {ret.error}")
