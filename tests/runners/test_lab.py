"""Runners on a real lab: pvc vm define/list, a selector's choice, a dry run refusing an overcommit,
flush + ready of 4 running VMs with zero downtime, primary SIGKILL -> new primary < 5 s, and a
primary SIGKILLed mid-flush (the new one finishes it, every VM moved once)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from pvc.cluster.records import VMRecord, VMState
from pvc.runners.tree import RunnerTree, StepState, VMStatus
from tests.cluster.ports import free_port
from tests.cluster.wait import wait_for
from tests.runners.conftest import ClusterLab, guest_xml, ticks

VMS = ("r1", "r2", "r3", "r4")
# The runners ask QEMU for 300 ms (MAX_DOWNTIME_MS); QEMU's switch-over estimate is a target, and
# on this shared 2-core box TCG guests migrated two at a time measured 25-341 ms (429 ms four at a
# time). The guest-visible checks (no tick gap, never left running) are the strict ones.
LAB_DOWNTIME_BOUND_MS = 1000


def placed(cl: ClusterLab) -> dict[str, VMRecord]:
    return {v.record.name: v.record for v in cl.fake.store.vms()}


def libvirt_homes(cl: ClusterLab) -> dict[str, list[str]]:
    """Every VM -> the nodes whose libvirt has it defined (must be exactly one)."""
    from pvc.client import Client

    homes: dict[str, list[str]] = {}
    with Client(cl.master_dir) as client:
        for node, rows in client.cmd(["hv1", "hv2", "hv3"], "virt.list", timeout=15).items():
            for row in rows:
                homes.setdefault(row["name"], []).append(node)
    return homes


class BusRecorder:
    """Every pvc/vm/ event on the master's bus, from a thread."""

    def __init__(self, master_dir: str) -> None:
        from pvc.config import load_master

        self.cfg = load_master(master_dir)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.fired_at: dict[str, float] = {}  # tag -> when the master put it on the bus (last one)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        from pvc.client import listen
        from pvc.wire.codec import unpack

        sock = listen(self.cfg, "pvc/vm/")
        self._ready.set()
        try:
            while not self._stop.is_set():
                if sock.poll(100):
                    _, payload = sock.recv_multipart()
                    event = unpack(payload)
                    self.events.append((event["tag"], event["data"]))
                    self.fired_at[event["tag"]] = float(event["ts"])
        finally:
            sock.close(0)

    def stop(self) -> list[tuple[str, dict[str, Any]]]:
        self._stop.set()
        self._thread.join(2)
        return self.events


def test_define_list_and_selector(cluster_lab: ClusterLab) -> None:
    cl = cluster_lab
    for name in VMS:
        proc = cl.pvc("vm", "define", str(guest_xml(cl.dir, name)), "--node", "hv1")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    defined = time.monotonic()
    # a selector's choice: mem -> hv2 (most free), vcpus -> hv3 (fewest allocated); not started
    for name, selector, want in (("s1", "mem", "hv2"), ("s2", "vcpus", "hv3")):
        out = cl.json("vm", "define", str(guest_xml(cl.dir, name)), "--selector", selector, "--no-start")
        assert out["node"] == want, out
    # observed state follows libvirt's events into ZooKeeper: nothing polls libvirt (a node is
    # re-read only when its libvirt connection comes back), so a state that arrives at all came
    # by the events. 2.9-3.8 s here on an idle 2-core box, each `pvc` call a process; a bound of
    # 5 s failed under the full suite's load: a latency is for a benchmark, not a test's bound.
    while True:
        rows = {r["name"]: r for r in cl.json("vm", "list")}
        if all(rows[n]["state"] == "running" for n in VMS) or time.monotonic() - defined > 30:
            break
        time.sleep(0.1)
    assert all(rows[n]["state"] == "running" and rows[n]["node"] == "hv1" for n in VMS), rows
    assert rows["s1"]["desired_state"] == "stop" and rows["s1"]["node"] == "hv2"
    assert [r["name"] for r in cl.json("vm", "list", "--node", "hv3")] == ["s2"]
    # actual state follows libvirt's events into ZooKeeper within 1 s
    tree = RunnerTree(cl.fake.store)
    for verb, tag, state in (("start", "started", "running"), ("stop", "stopped", "stopped")):
        bus = BusRecorder(cl.master_dir)
        assert cl.pvc("vm", verb, "s1").returncode == 0
        deadline = time.monotonic() + 5
        while f"pvc/vm/s1/{tag}" not in bus.fired_at or (tree.status("s1") or VMStatus("s1", "", None, 0)).state != state:
            assert time.monotonic() < deadline, (bus.events, tree.status("s1"))
            time.sleep(0.02)
        bus.stop()
        status = tree.status("s1")
        assert status is not None and status.node == "hv2"
        assert 0 <= status.since - bus.fired_at[f"pvc/vm/s1/{tag}"] < 1.0
    for name in ("s1", "s2"):
        assert cl.pvc("vm", "remove", name).returncode == 0
    assert set(placed(cl)) == set(VMS)
    assert {n: h for n, h in libvirt_homes(cl).items()} == {n: ["hv1"] for n in VMS}


def test_dry_run_refuses_an_overcommit(cluster_lab: ClusterLab) -> None:
    cl = cluster_lab
    xml = guest_xml(cl.dir, "huge").read_text().replace('<memory unit="MiB">128</memory>',
                                                        '<memory unit="MiB">100000</memory>')
    with cl.fake.store.batch() as b:
        b.put_vm(VMRecord("huge", xml, VMState.STOP, node="hv1"), None)
    try:
        dry = cl.pvc("node", "flush", "hv1", "--dry-run")
        assert dry.returncode == 1, dry.stdout + dry.stderr
        assert "huge" in dry.stderr and "needs 100000 MiB" in dry.stderr and "refused" in dry.stdout
        real = cl.pvc("node", "flush", "hv1", "--wait")
        assert real.returncode == 2 and "refused, nothing moved" in real.stderr, real.stderr
        assert cl.fake.store.node("hv1").record.domain_state.value == "ready"
        assert all(v.node == "hv1" for v in placed(cl).values())
    finally:
        cur = cl.fake.store.vm("huge")
        with cl.fake.store.batch() as b:
            b.delete_vm("huge", cur.version)


def _check_zero_downtime(cl: ClusterLab, result: dict[str, Any], before: dict[str, int],
                         events: list[tuple[str, dict[str, Any]]]) -> None:
    assert result["state"] == "done", result
    for step in result["steps"]:
        assert step["state"] == "done" and step["method"] == "live", step
        assert step["downtime_ms"] is not None and step["downtime_ms"] < LAB_DOWNTIME_BOUND_MS, step
    bad = [(t, d) for t, d in events if t.split("/")[2] in VMS and t.split("/")[3] in ("stopped", "crashed", "started")]
    assert not bad, f"a domain left the running state: {bad}"
    migrated = {t.split("/")[2] for t, _ in events if t.endswith("/migrated")}
    assert set(VMS) <= migrated
    time.sleep(1.5)  # at least one more tick after the move
    for name in VMS:
        boots, numbers = ticks(cl.dir, name)
        assert boots == 1, f"{name} restarted"
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), f"{name}: tick gap {numbers}"
        assert numbers[-1] > before[name], f"{name} stopped ticking"


def wait_ticking(cl: ClusterLab, timeout: float = 60.0) -> dict[str, int]:
    """The last tick of each guest, once every guest has booted and ticks."""
    deadline = time.monotonic() + timeout
    while True:
        last = {n: ticks(cl.dir, n)[1] for n in VMS}
        if all(last.values()):
            return {n: t[-1] for n, t in last.items()}
        assert time.monotonic() < deadline, f"guests not ticking after {timeout} s: {last}"
        time.sleep(0.2)


def test_flush_and_ready_with_zero_downtime(cluster_lab: ClusterLab) -> None:
    cl = cluster_lab
    before = wait_ticking(cl)
    bus = BusRecorder(cl.master_dir)
    result = cl.json("node", "flush", "hv1", "--wait", "--parallel", "2")
    events = bus.stop()
    _check_zero_downtime(cl, result, before, events)
    assert cl.fake.store.node("hv1").record.domain_state.value == "flushed"
    vms = placed(cl)
    assert all(vms[n].node in ("hv2", "hv3") and vms[n].last_node == "hv1" for n in VMS), vms
    assert {n: len(h) for n, h in libvirt_homes(cl).items()} == {n: 1 for n in VMS}

    before = {n: ticks(cl.dir, n)[1][-1] for n in VMS}
    bus = BusRecorder(cl.master_dir)
    result = cl.json("node", "ready", "hv1", "--wait", "--parallel", "2")
    _check_zero_downtime(cl, result, before, bus.stop())
    assert cl.fake.store.node("hv1").record.domain_state.value == "ready"
    vms = placed(cl)
    assert all(vms[n].node == "hv1" and vms[n].last_node is None for n in VMS), vms
    assert libvirt_homes(cl) == {n: ["hv1"] for n in VMS}


def test_vm_migrate_unmigrate_move(cluster_lab: ClusterLab) -> None:
    cl = cluster_lab
    steps = (("migrate", ["--node", "hv2"], "hv2", "hv1"), ("unmigrate", [], "hv1", None),
             ("move", ["--node", "hv3"], "hv3", None), ("migrate", [], None, "hv3"), ("unmigrate", [], "hv3", None),
             ("move", ["--node", "hv1"], "hv1", None))
    for verb, extra, node, last in steps:
        out = cl.json("vm", verb, "r1", *extra)
        assert out["method"] == "live", out
        vm = placed(cl)["r1"]
        assert (node is None or vm.node == node) and vm.last_node == last, (verb, vm)
        assert libvirt_homes(cl)["r1"] == [vm.node]
    assert cl.pvc("vm", "migrate", "r1", "--node", "hv1").returncode == 2  # already there
    boots, numbers = ticks(cl.dir, "r1")
    assert boots == 1 and numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_primary_sigkill_new_primary_under_5s(cluster_lab: ClusterLab) -> None:
    cl = cluster_lab
    old = cl.wait_primary()
    killed_at = time.monotonic()
    cl.coordinators[old].send_signal(signal.SIGKILL)
    cl.coordinators[old].wait()
    new = cl.wait_primary(timeout=10, not_id=old)
    took = time.monotonic() - killed_at
    assert took < 5.0, f"new primary {new} after {took:.2f} s"
    # and it acts: a flush of an empty node is done by it
    result = cl.json("node", "flush", "hv3", "--wait")
    assert result["state"] == "done" and result["owner"] == new
    assert cl.json("node", "ready", "hv3", "--wait")["state"] == "done"
    cl.start_coordinator(f"{old}b")


@pytest.mark.timeout(120)
def test_primary_sigkill_mid_flush_completes_once(cluster_lab: ClusterLab) -> None:
    cl = cluster_lab
    primary = cl.wait_primary()
    submitted = cl.json("node", "flush", "hv1", "--parallel", "1")
    tree_path = submitted["request"]
    tree = RunnerTree(cl.fake.store)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # kill once the first VM has moved and the next is under way
        found = tree.request("hv1")
        assert found is not None
        if any(s.state is StepState.DONE for s in found.record.steps):
            break
        time.sleep(0.01)
    assert found.record.open and not all(s.state is StepState.DONE for s in found.record.steps)
    cl.coordinators[primary].send_signal(signal.SIGKILL)
    cl.coordinators[primary].wait()
    result = cl.json("runner", "node.flush", "hv1", "wait=true")  # follows the open request
    assert result["request"] == tree_path and result["state"] == "done", result
    assert result["owner"] != primary
    assert all(s["state"] == "done" for s in result["steps"])
    homes = libvirt_homes(cl)
    assert {n: len(homes[n]) for n in VMS} == {n: 1 for n in VMS}, homes
    vms = placed(cl)
    assert all(vms[n].node == homes[n][0] != "hv1" and vms[n].last_node == "hv1" for n in VMS), vms
    for name in VMS:
        boots, numbers = ticks(cl.dir, name)
        assert boots == 1 and numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert cl.json("node", "ready", "hv1", "--wait")["state"] == "done"


def _children(pid: int) -> list[int]:
    from pathlib import Path

    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


@contextmanager
def _master_with_cluster(cluster_lab: ClusterLab, tmp_path: Any) -> Iterator[tuple[subprocess.Popen[bytes], Any]]:
    """`pvc master` with a cluster section, once it contends in the election; yields the master
    and a probe: the election's contender znodes of this master's coordinators."""
    import socket
    import sys

    import yaml

    from tests.runners.conftest import ROOT

    cfg = {"interface": "127.0.0.1", "ret_port": free_port(),
           "channel_port": free_port(), "root_dir": "root", "cluster": {"zookeeper": cluster_lab.zk, "root": ROOT}}
    (tmp_path / "master").write_text(yaml.safe_dump(cfg))
    identity = f"{socket.gethostname().split('.')[0]}-{tmp_path.name}"
    master = subprocess.Popen([sys.executable, "-m", "pvc.cli.main", "master", "-c", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    zk, path = cluster_lab.fake.store.client.zk, cluster_lab.fake.store.schema.path("election")

    def ours() -> set[str]:
        return {node for node in zk.get_children(path) if zk.get(f"{path}/{node}")[0].decode() == identity}

    try:
        wait_for(ours, 20, f"{identity} to contend")
        yield master, ours
    finally:
        if master.poll() is None:
            master.kill()
            master.wait()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_master_with_cluster_runs_a_coordinator_child(cluster_lab: ClusterLab, tmp_path: Any,
                                                      how: signal.Signals) -> None:
    """`pvc master` with cluster: starts the coordinator as its child; it ends with the master."""
    from tests.runners.conftest import pid_alive

    with _master_with_cluster(cluster_lab, tmp_path) as (master, contenders):
        kids = _children(master.pid)
        assert len(kids) == 1
        master.send_signal(how)
        master.wait(10)
        wait_for(lambda: not pid_alive(kids[0]) and not contenders(), 10, "the coordinator to end with its master")


def test_a_coordinator_that_dies_is_started_again(cluster_lab: ClusterLab, tmp_path: Any) -> None:
    """A SIGKILLed coordinator is replaced within seconds: the node takes part in the cluster
    again (a contender znode of its own beside the dead one's, until that session expires), and
    the new child still ends with the master."""
    from tests.runners.conftest import pid_alive

    with _master_with_cluster(cluster_lab, tmp_path) as (master, contenders):
        first, before = _children(master.pid), contenders()
        assert len(first) == 1
        os.kill(first[0], signal.SIGKILL)
        wait_for(lambda: _children(master.pid) not in ([], first), 10, "a second coordinator")
        second = _children(master.pid)
        wait_for(lambda: contenders() - before, 20, "the second coordinator to contend")
        master.send_signal(signal.SIGTERM)
        master.wait(10)
        wait_for(lambda: not pid_alive(second[0]), 10, "the second coordinator to end with its master")
