"""The lab's VMs: tiny ticking TCG guests, defined and started through pvc jobs.

Never through libvirt directly: ``up --vms N`` is the first real user of ``virt.define`` and
``virt.start`` on every node, through the master, the way an operator would do it. VM ``vmK``
goes to node ``K mod nodes`` (vm1 on hv1, vm2 on hv2, ...); all define jobs are published at once,
then all start jobs.

In a lab with Ceph (``up --ceph``) each guest also gets an RBD disk, made first with a
``ceph.volume_create`` job on its node: image ``<pool>/<vm>-disk0`` (:func:`rbd_image`), 16 MiB,
the cluster's default features (exclusive-lock included). The guest boots from its initrd and
writes its tick to the disk each second (:mod:`pvc.lab.guestkernel`): its QEMU opens the image
through librbd from inside its node and holds the image's exclusive lock, as an RBD-backed VM
does (what live migration hands over and fencing breaks: ``ceph.lock_list POOL IMAGE``).

Example::

    with Client(master.config_dir) as client:
        placed = create(client, ["hv1", "hv2"], count=4)   # [Vm("vm1", "hv1"), ...]
        create(client, ["hv1", "hv2"], count=2, ceph=lab.ceph)   # with disks vms/vm1-disk0, ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pvc.client import Client
from pvc.lab import guestkernel
from pvc.lab.errors import LabError
from pvc.lab.state import Ceph, Vm

MEMORY_MIB = 128
DISK_SIZE = "16M"
JOB_TIMEOUT = 60.0
Call = tuple[Vm, str, list[Any], dict[str, Any]]  # one job: the VM (its node is the target), function, args, kwargs


def rbd_image(vm: str) -> str:
    """The name of VM ``vm``'s RBD image in the lab's pool (``vm1`` -> ``vm1-disk0``)."""
    return f"{vm}-disk0"


def rbd_disk(ceph: Ceph, vm: str) -> dict[str, Any]:
    """The ``virt.define`` disk of ``vm``: its image, the monitor, client.admin's secret."""
    return {"rbd": f"{ceph.pool}/{rbd_image(vm)}", "monitors": [ceph.monitor], "auth_user": "admin",
            "secret_uuid": ceph.secret_uuid}


def spec(name: str, ceph: Ceph | None = None) -> dict[str, Any]:
    """A ``virt.define`` spec: 128 MiB, 1 vCPU, TCG, direct kernel boot, no NIC; an RBD disk
    with ``ceph``, none otherwise."""
    kernel, initrd = guestkernel.ensure()
    return {"name": name, "vcpus": 1, "memory": MEMORY_MIB, "type": "qemu", "kernel": str(kernel),
            "initrd": str(initrd), "cmdline": "console=ttyS0 quiet panic=-1", "migration": "live",
            "disks": [rbd_disk(ceph, name)] if ceph else []}


def placement(nodes: Sequence[str], count: int) -> list[Vm]:
    return [Vm(name=f"vm{k}", node=nodes[(k - 1) % len(nodes)]) for k in range(1, count + 1)]


def create(client: Client, nodes: Sequence[str], count: int, ceph: Ceph | None = None) -> list[Vm]:
    """Define and start ``count`` guests spread over ``nodes`` (with ``ceph``: each on a new RBD
    image, made in the same round as the definitions: only the start needs it); raises naming
    the first failure."""
    vms = placement(nodes, count)
    calls: list[Call] = [(vm, "virt.define", [], spec(vm.name, ceph)) for vm in vms]
    if ceph:
        calls += [(vm, "ceph.volume_create", [ceph.pool, rbd_image(vm.name), DISK_SIZE], {}) for vm in vms]
    _all(client, calls)
    _all(client, [(vm, "virt.start", [vm.name], {}) for vm in vms])
    return vms


def _all(client: Client, calls: list[Call]) -> None:
    """Publish one job per call without waiting in between, then check every return."""
    jids = {client.run_async([vm.node], fun, args, kwargs, timeout=JOB_TIMEOUT): (vm, fun)
            for vm, fun, args, kwargs in calls}
    results = client.collect(list(jids), timeout=JOB_TIMEOUT + 5)
    for jid, (vm, fun) in jids.items():
        result = results[jid]
        ret = result.returns.get(vm.node)
        if ret is None:
            raise LabError(f"{fun} {vm.name} on {vm.node}: no return ({result.missing.get(vm.node, 'timed out')})")
        if not ret.ok:
            raise LabError(f"{fun} {vm.name} on {vm.node}: {ret.error_type}: {ret.error}")
