"""Fencing and VM recovery on a real lab (issue 10 §1-3): real minions keeping their nodes alive
in ZooKeeper, the master's coordinator as the fencer, ipmi_sim BMCs whose power-off kills the
node's processes, TCG guests ticking on their serial console.

Tests run in file order on one 3-node lab; each brings the cluster back (power on, `pvc node
ready`) before the next. Throughout, a watcher reads every node's libvirt four times a second
and records any VM running on two nodes (pvc.lab.invariants): that must never happen.

* a clean minion stop (its init frozen so it cannot respawn) is not fenced;
* with cluster maintenance on, a hung node is not fenced; once it is off, it is;
* a hung node (minion and QEMUs SIGSTOPped) is declared dead, powered off through its BMC,
  confirmed off, and its VMs run elsewhere — the seconds from the hang are printed;
* a power cut by the test through the BMC -> fenced at once, VMs recovered;
* a dead BMC + a hung node -> fence-failed, nothing moves; once the BMC answers again the retry
  fences it and the VMs move;
* the primary's coordinator SIGKILLed during a recovery -> a second coordinator finishes it, each
  VM booted exactly once more;
* a QEMU killed -> the VM restarted on its node; a crash loop -> restarted 3 times, moved once,
  restarted 3 times there, then marked fail with the reason.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from pvc.cluster.client import ClusterClient, connect
from pvc.cluster.records import DaemonState
from pvc.cluster.store import ClusterStore
from pvc.lab import faults, procs, state
from pvc.lab.invariants import confirmed, snapshot, violations
from pvc.runners.fencetree import FenceRecord, FenceState, FenceTree, StepState
from tests.lab.conftest import RunningLab, pvc, running_lab
from tests.runners.conftest import guest_xml, ticks

pytestmark = pytest.mark.timeout(300)
TARGET_S = 15.0  # issue 10: VMs running elsewhere < 15 s after a node dies


def wait_for(what: str, cond: Callable[[], Any], timeout: float, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(every)


class Bus:
    """Every pvc/node/ and pvc/vm/ event on the master's bus, with the time it arrived."""

    def __init__(self, master_dir: str) -> None:
        from pvc.config import load_master

        self.cfg = load_master(master_dir)
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self._stop, ready = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(5)

    def _run(self, ready: threading.Event) -> None:
        import zmq

        from pvc.client import listen
        from pvc.wire.codec import unpack

        sock = listen(self.cfg, "pvc/node/")
        sock.setsockopt(zmq.SUBSCRIBE, b"pvc/vm/")
        ready.set()
        try:
            while not self._stop.is_set():
                if sock.poll(100):
                    event = unpack(sock.recv_multipart()[1])
                    self.events.append((time.time(), event["tag"], event["data"]))
        finally:
            sock.close(0)

    def tags(self, prefix: str = "") -> list[str]:
        return [t for _, t, _ in self.events if t.startswith(prefix)]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)


class Watch:
    """Reads every node's libvirt every 0.25 s; remembers each VM running on two nodes (confirmed
    by a re-read: `pvc node ready` live-migrates VMs back, and a switch-over between two reads of
    one sample is not a double run)."""

    def __init__(self, lab_dir: Path) -> None:
        self.lab_dir, self.samples = lab_dir, 0
        self.bad: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            try:
                self.bad += [str(v) for v in confirmed(self.lab_dir, violations(snapshot(self.lab_dir)))]
                self.samples += 1
            except Exception:  # noqa: BLE001, S112 - a node powering off mid-read: next sample
                continue

    def close(self) -> list[str]:
        self._stop.set()
        self._thread.join(3)
        return self.bad


@dataclass
class FenceLab:
    lab: RunningLab
    client: ClusterClient
    store: ClusterStore
    watch: Watch
    extra: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        return self.lab.dir

    def pvc(self, *args: str, timeout: float = 120) -> Any:
        proc = pvc("-c", self.lab.master_dir, *args, "--out", "json", timeout=timeout)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(proc.stdout)

    def node(self, name: str) -> state.Node:
        return state.load(self.dir).node(name)

    def define(self, name: str, node: str) -> None:
        out = self.pvc("vm", "define", str(guest_xml(self.dir, name)), "--node", node)
        assert out["node"] == node, out

    def running(self) -> dict[str, list[str]]:
        return snapshot(self.dir).homes()

    def hang(self, node: str) -> None:
        faults.hang(self.dir, node)

    def fence(self, node: str) -> FenceRecord | None:
        found = FenceTree(self.store).get(node)
        return None if found is None else found.record

    def bring_back(self, node: str) -> dict[str, Any]:
        """Power on through the BMC, wait for the minion's session, `pvc node ready --wait`."""
        faults.power(self.dir, node, "on")
        wait_for(f"{node} back in ZooKeeper", lambda: node in self.store.alive(), 60)
        return self.pvc("node", "ready", node, "--wait", "--timeout", "180", timeout=200)


@pytest.fixture(scope="module")
def flab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FenceLab]:
    with running_lab(tmp_path_factory, "fencelab", nodes=3, vms=0) as lab:
        client = connect(lab.json()["zookeeper"]["hosts"])
        fl = FenceLab(lab, client, ClusterStore.open(client, "/pvc"), Watch(lab.dir))
        try:
            wait_for("a primary", fl.store.primary, 30)
            yield fl
        finally:
            bad = fl.watch.close()
            for proc in fl.extra:
                proc.terminate()
                proc.wait(10)
            client.close()
        assert not bad, f"a VM ran on two nodes: {bad}"


def recovered_to(fl: FenceLab, vms: list[str], dead: str, timeout: float) -> dict[str, list[str]]:
    def elsewhere() -> dict[str, list[str]] | None:
        homes = fl.running()
        ok = all(len(homes.get(v, [])) == 1 and homes[v][0] != dead for v in vms)
        return homes if ok else None

    return wait_for(f"{vms} running off {dead}", elsewhere, timeout, every=0.05)


def check_fenced(fl: FenceLab, node: str, vms: list[str]) -> FenceRecord:
    rec = wait_for(f"{node}'s fence closed", lambda: (r := fl.fence(node)) and r.state is FenceState.RECOVERED and r,
                   30)
    assert rec.confirmed is not None and rec.confirmed >= rec.detected
    assert set(vms) <= {s.vm for s in rec.steps} and all(s.state is StepState.DONE for s in rec.steps), rec
    assert all(s.done_at is not None and s.done_at >= rec.confirmed for s in rec.steps), "started before confirmed off"
    assert fl.store.node(node).record.daemon_state is DaemonState.FENCED
    assert fl.node(node).power == "off" and not procs.alive(fl.node(node).init_pid)  # what the BMC reads
    view = {n["name"]: n for n in fl.pvc("node", "list")}
    assert view[node]["state"] == "fenced", view[node]
    for vm in vms:
        rec_vm = fl.store.vm(vm).record
        assert rec_vm.node != node and rec_vm.last_node == node, rec_vm
    return rec


def test_clean_minion_stop_is_not_fenced(flab: FenceLab) -> None:
    fl = flab
    grace = fl.store.config().record.fence_grace
    node = fl.node("hv2")
    bus = Bus(fl.lab.master_dir)
    procs.signal_pid(node.init_pid, signal.SIGSTOP)  # no respawn while we look
    try:
        procs.signal_pid(node.minion_pid, signal.SIGTERM)
        wait_for("hv2 stopped", lambda: fl.store.node("hv2").record.daemon_state is DaemonState.STOPPED, 15)
        assert "hv2" not in fl.store.alive()
        time.sleep(grace + 4)  # well past the grace and the session timeout
        assert fl.store.node("hv2").record.daemon_state is DaemonState.STOPPED
        assert not bus.tags("pvc/node/hv2/") and fl.fence("hv2") is None
        assert fl.node("hv2").power == "on"
    finally:
        procs.signal_pid(node.init_pid, signal.SIGCONT)
        bus.close()
    wait_for("hv2's minion respawned", lambda: fl.store.node("hv2").record.daemon_state is DaemonState.RUN, 30)


def test_maintenance_fences_nothing(flab: FenceLab) -> None:
    """With maintenance on, a hung node is left alone (not even declared dead); once maintenance
    is off it is fenced and its VM runs elsewhere."""
    fl = flab
    fl.define("m1", "hv3")
    wait_for("m1 on hv3", lambda: fl.running().get("m1") == ["hv3"], 60)
    grace = fl.store.config().record.fence_grace
    assert pvc("-c", fl.lab.master_dir, "cluster", "maintenance", "on").returncode == 0
    try:
        fl.hang("hv3")
        wait_for("hv3's session gone", lambda: "hv3" not in fl.store.alive(), 30)
        time.sleep(grace + 3)
        assert fl.fence("hv3") is None and fl.store.node("hv3").record.daemon_state is DaemonState.RUN
        assert fl.running()["m1"] == ["hv3"] and fl.node("hv3").power == "on"
    finally:
        assert pvc("-c", fl.lab.master_dir, "cluster", "maintenance", "off").returncode == 0
    recovered_to(fl, ["m1"], "hv3", 60)
    check_fenced(fl, "hv3", ["m1"])
    assert fl.bring_back("hv3")["state"] == "done"


def test_hung_node_fenced_vms_elsewhere(flab: FenceLab) -> None:
    fl = flab
    vms = ["h1", "h2"]
    for vm in vms:
        fl.define(vm, "hv1")
    wait_for("h1, h2 on hv1", lambda: all(fl.running().get(v) == ["hv1"] for v in vms), 30)
    wait_for("guests ticking", lambda: all(ticks(fl.dir, v)[1] for v in vms), 180)
    bus = Bus(fl.lab.master_dir)
    t0 = time.time()
    fl.hang("hv1")
    try:
        homes = recovered_to(fl, vms, "hv1", 60)
        took = time.time() - t0
        rec = check_fenced(fl, "hv1", vms)
        wait_for("recovered events", lambda: {f"pvc/vm/{v}/recovered" for v in vms} <= set(bus.tags()), 10)
    finally:
        bus.close()
    print(f"\nhung hv1 -> {vms} running on {[homes[v][0] for v in vms]} {took:.2f} s after the hang "
          f"(declared dead +{rec.detected - t0:.2f} s, confirmed off +{(rec.confirmed or 0) - t0:.2f} s)")
    tags = bus.tags()
    assert tags.index("pvc/node/hv1/dead") < tags.index("pvc/node/hv1/fenced") < tags.index("pvc/vm/h1/recovered")
    assert "pvc/vm/h2/recovered" in tags and "pvc/node/hv1/fence-failed" not in tags
    assert took < TARGET_S, f"VMs running elsewhere {took:.2f} s after the hang (target < {TARGET_S} s)"
    ready = fl.bring_back("hv1")
    assert ready["state"] == "done", ready
    assert fl.store.node("hv1").record.daemon_state is DaemonState.RUN
    assert all(fl.running()[v] == ["hv1"] for v in vms)
    assert all(fl.store.vm(v).record.node == "hv1" for v in vms)


def test_power_loss_recovered(flab: FenceLab) -> None:
    fl = flab
    fl.define("p1", "hv2")
    wait_for("p1 on hv2", lambda: fl.running().get("p1") == ["hv2"], 30)
    t0 = time.time()
    faults.cut_power(fl.dir, "hv2")
    recovered_to(fl, ["p1"], "hv2", 60)
    took = time.time() - t0
    rec = check_fenced(fl, "hv2", ["p1"])
    print(f"\npower cut hv2 -> p1 running elsewhere {took:.2f} s later (confirmed off in attempt {rec.attempts})")
    assert took < TARGET_S
    assert fl.bring_back("hv2")["state"] == "done"


def test_dead_bmc_and_hung_node_fence_failed_nothing_moves(flab: FenceLab) -> None:
    fl = flab
    fl.define("b1", "hv3")
    wait_for("b1 on hv3", lambda: fl.running().get("b1") == ["hv3"], 30)
    node = fl.node("hv3")
    bus = Bus(fl.lab.master_dir)
    procs.signal_pid(node.bmc.pid, signal.SIGSTOP)  # the BMC answers nothing
    try:
        fl.hang("hv3")
        rec = wait_for("hv3 fence-failed", lambda: (r := fl.fence("hv3")) and r.state is FenceState.FENCE_FAILED and r,
                       60)
        assert rec.steps == () and "127.0.0.1" in rec.error, rec
        view = {n["name"]: n for n in fl.pvc("node", "list")}
        assert view["hv3"]["state"] == "fence-failed"
        time.sleep(2)
        assert fl.running()["b1"] == ["hv3"] and fl.store.vm("b1").record.node == "hv3"  # nothing moved
        assert "pvc/node/hv3/fence-failed" in bus.tags() and not bus.tags("pvc/vm/b1/recovered")
    finally:
        procs.signal_pid(node.bmc.pid, signal.SIGCONT)
    try:  # the BMC answers again: the retry (backoff) fences hv3 and b1 moves
        recovered_to(fl, ["b1"], "hv3", 90)
        rec = check_fenced(fl, "hv3", ["b1"])
        assert rec.attempts >= 2
    finally:
        bus.close()
    assert fl.bring_back("hv3")["state"] == "done"


def test_primary_killed_during_recovery_finished_once(flab: FenceLab) -> None:
    fl = flab
    vms = ["k1", "k2", "k3"]
    for vm in vms:
        fl.define(vm, "hv2")
    wait_for("k1-k3 on hv2", lambda: all(fl.running().get(v) == ["hv2"] for v in vms), 30)
    wait_for("guests booted", lambda: all(ticks(fl.dir, v)[0] == 1 for v in vms), 180)
    second = subprocess.Popen([sys.executable, "-m", "pvc.runners.coordinator", "-c", fl.lab.master_dir, "--id", "c2"],
                              stdout=subprocess.DEVNULL, stderr=open(fl.dir / "c2.log", "ab"))  # noqa: SIM115
    fl.extra.append(second)
    primary = fl.store.primary()
    assert primary is not None and primary.id != "c2"
    coordinator = procs.find_in(procs.all_pids(), "pvc.runners.coordinator -c " + fl.lab.master_dir + " --log-level")
    assert coordinator, "the master's coordinator child"
    fl.hang("hv2")
    wait_for("hv2's recovery under way", lambda: (r := fl.fence("hv2")) and r.state is FenceState.FENCED
             and any(s.state is StepState.STARTING for s in r.steps), 60, every=0.005)
    procs.signal_pid(coordinator, signal.SIGKILL)
    killed = fl.fence("hv2")
    assert killed is not None and not all(s.state is StepState.DONE for s in killed.steps), killed
    wait_for("c2 primary", lambda: (p := fl.store.primary()) and p.id == "c2", 30)
    recovered_to(fl, vms, "hv2", 60)
    rec = check_fenced(fl, "hv2", vms)
    print(f"\nprimary killed with {sum(s.state is StepState.DONE for s in killed.steps)}/{len(vms)} VMs done; "
          f"c2 finished: {[(s.vm, s.target, s.attempts) for s in rec.steps]}")
    wait_for("every guest booted once more", lambda: all(ticks(fl.dir, v)[0] >= 2 for v in vms), 180)
    time.sleep(3)  # a second start elsewhere would show by now
    for vm in vms:
        assert ticks(fl.dir, vm)[0] == 2, f"{vm} booted {ticks(fl.dir, vm)[0]} times (want: once more)"
        assert len(fl.running()[vm]) == 1
    assert fl.bring_back("hv2")["state"] == "done"


def test_killed_qemu_restarted_on_its_node(flab: FenceLab) -> None:
    fl = flab
    fl.define("q1", "hv1")
    wait_for("q1 ticking on hv1", lambda: fl.running().get("q1") == ["hv1"] and ticks(fl.dir, "q1")[1], 180)
    boots = ticks(fl.dir, "q1")[0]
    bus = Bus(fl.lab.master_dir)
    try:
        (pid,) = faults.qemu_pids(fl.dir, "hv1", "q1")
        t0 = time.time()
        procs.signal_pid(pid, signal.SIGKILL)
        wait_for("q1 restarted", lambda: "pvc/vm/q1/restarted" in bus.tags() and fl.running().get("q1") == ["hv1"], 30)
        took = time.time() - t0
    finally:
        bus.close()
    assert bus.tags("pvc/vm/q1/").index("pvc/vm/q1/crashed") < bus.tags("pvc/vm/q1/").index("pvc/vm/q1/restarted")
    wait_for("q1 booted again", lambda: ticks(fl.dir, "q1")[0] == boots + 1, 180)
    vm = fl.store.vm("q1").record
    assert vm.node == "hv1" and vm.desired_state.value == "start" and vm.failure_reason is None
    print(f"\nq1's QEMU killed -> running again on hv1 {took:.2f} s later")


def test_crash_loop_restarts_then_moves_then_fails(flab: FenceLab) -> None:
    """A VM whose QEMU keeps dying: restarted 3 times on its node, moved once, restarted 3 times
    there, then marked fail with the reason (`pvc vm list` shows it) and left stopped."""
    fl = flab
    fl.define("c1", "hv3")
    wait_for("c1 running on hv3", lambda: fl.running().get("c1") == ["hv3"], 60)
    bus = Bus(fl.lab.master_dir)
    answers = ("restarted", "moved", "failed")

    def actions() -> list[str]:
        return [t.split("/")[3] for t in bus.tags("pvc/vm/c1/") if t.split("/")[3] in answers]

    def answered(count: int) -> bool:
        return len(actions()) >= count

    try:
        for kill in range(8):
            node = fl.store.vm("c1").record.node
            assert node is not None
            pids: list[int] = wait_for(f"c1's QEMU on {node}", partial(faults.qemu_pids, fl.dir, node, "c1"), 60)
            procs.signal_pid(pids[0], signal.SIGKILL)
            wait_for(f"the restarter's answer to crash {kill + 1}", partial(answered, kill + 1), 60, every=0.05)
            if actions()[-1] == "failed":
                break
            wait_for("c1 running again", lambda: len(fl.running().get("c1", [])) == 1, 60)
    finally:
        bus.close()
    seen = actions()
    assert seen == ["restarted"] * 3 + ["moved"] + ["restarted"] * 3 + ["failed"], seen
    vm = fl.store.vm("c1").record
    assert vm.desired_state.value == "fail" and vm.node != "hv3" and vm.last_node == "hv3", vm
    assert vm.failure_reason is not None and "crashed 8 times" in vm.failure_reason, vm.failure_reason
    listed = pvc("-c", fl.lab.master_dir, "vm", "list")
    assert f"c1: {vm.failure_reason}" in listed.stdout, listed.stdout
    time.sleep(1)
    assert "c1" not in fl.running()
