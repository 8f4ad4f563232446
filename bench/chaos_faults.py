"""The chaos run's faults (issue 10 §5) and the repair after each, on a real ``pvc lab``.

Each fault is a plain function ``fault(world, rng) -> Step`` in the :data:`FAULTS` registry: it
picks its victims with ``rng`` among the healthy nodes, inflicts the fault on real processes
(by PID, through the BMC, on the node's link, on a ZooKeeper server), waits — bounded — for what
the cluster must do about it, and returns a :class:`Step` saying which nodes may be fenced,
which were stopped cleanly, and how long the node's VMs took to run elsewhere:

=============  ==========================================================  ================
name           fault                                                       expected
=============  ==========================================================  ================
hang           minion + QEMUs SIGSTOPped                                   fenced, VMs move
power          power cut through the BMC                                   fenced, VMs move
bmc-dead       BMC SIGSTOPped + node hung; BMC resumed after fence-failed  nothing moves, then fenced
clean-stop     minion SIGTERMed (its init frozen: no respawn)              never fenced
two-nodes      two of the above at once                                    both fenced, VMs that fit move
primary-kill   a hang, then the primary's coordinator + master SIGKILLed   finished once by the new primary
               while the recovery runs
zk-leader      the leader of the 3-server ZooKeeper ensemble SIGKILLed     no node fenced
partition      the node's link down (its netns cut off)                    fenced, never twice
=============  ==========================================================  ================

:func:`repair` then brings everything back: BMCs resumed, ZooKeeper servers and masters
restarted, fenced nodes powered on and returned with ``pvc node ready --wait``.

Example::

    step = FAULTS["hang"](world, random.Random(7))
    step.recovery_s          # seconds from the hang to its VMs running elsewhere
    repair(world)
"""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cluster import coordinator_id, coordinator_pid, pvc_json, wait_until
from pvc.cluster.records import DaemonState
from pvc.lab import faults, masters, outages, procs, state
from pvc.lab.errors import LabError
from pvc.lab.invariants import snapshot
from pvc.runners.fencetree import FINAL_STEPS, FenceRecord, FenceState, FenceTree, StepState

RECOVERY_TIMEOUT_S = 90.0   # a fault -> its nodes' VMs running elsewhere, at most
QUIET_MARGIN_S = 4.0        # a no-fence fault is watched this long past the fence grace
BACK_TIMEOUT_S = 90.0       # a node powered on -> its minion alive in ZooKeeper


class ChaosError(RuntimeError):
    """A fault cannot be inflicted (too few healthy nodes); the run records it."""


@dataclass
class World:
    """The lab under chaos and what the faults left to repair."""

    lab_dir: Path
    store: Any            # pvc.cluster.store.ClusterStore of the lab's cluster
    master_dir: str       # config dir of a master, for the CLI
    vms: list[str]
    grace: float          # the cluster's fence grace (s)
    stopped_bmcs: set[str] = field(default_factory=set)
    killed_masters: set[str] = field(default_factory=set)
    killed_zk: set[int] = field(default_factory=set)

    @property
    def fences(self) -> FenceTree:
        return FenceTree(self.store)

    def fence(self, node: str, t0: float) -> FenceRecord | None:
        """``node``'s fence opened at or after ``t0``, if any."""
        found = self.fences.get(node)
        return found.record if found is not None and found.record.detected >= t0 else None


@dataclass
class Step:
    """One fault (or repair) as it happened. ``may_fence``: the nodes a fence is allowed to hit;
    ``clean``: nodes stopped cleanly (never to be fenced); ``recovery_s``: the fault -> every VM
    of its nodes running elsewhere (None when nothing had to move); ``error``: what did not
    happen in time (the VMs then count as lost)."""

    kind: str
    nodes: tuple[str, ...]
    t0: float
    may_fence: frozenset[str] = frozenset()
    clean: frozenset[str] = frozenset()
    moved: tuple[str, ...] = ()
    recovery_s: float | None = None
    seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)
    error: str = ""


Fault = Callable[[World, random.Random], Step]


# -- helpers ---------------------------------------------------------------------------------

def healthy(w: World) -> list[str]:
    """Nodes powered on, alive in ZooKeeper and running (the candidates for a fault)."""
    alive = w.store.alive()
    lab = state.load(w.lab_dir)
    return [n.name for n in lab.nodes if n.power == "on" and n.name in alive
            and w.store.node(n.name).record.daemon_state is DaemonState.RUN]


def pick(w: World, rng: random.Random, count: int = 1) -> tuple[str, ...]:
    nodes = healthy(w)
    if len(nodes) < count:
        raise ChaosError(f"{count} healthy node(s) wanted, only {nodes}")
    return tuple(sorted(rng.sample(nodes, count)))


def homes(lab_dir: Path, tries: int = 20) -> dict[str, list[str]]:
    """VM -> the nodes running it, from every node's libvirt; a read that a node's power-off cut
    short is tried again (``tries`` times, 0.1 s apart)."""
    for _ in range(tries - 1):
        try:
            return snapshot(lab_dir).homes()
        except LabError:
            time.sleep(0.1)
    return snapshot(lab_dir).homes()


def vms_on(w: World, nodes: tuple[str, ...]) -> tuple[str, ...]:
    running = homes(w.lab_dir)
    return tuple(sorted(vm for vm, where in running.items() if set(where) & set(nodes)))


def await_recovery(w: World, step: Step, timeout: float = RECOVERY_TIMEOUT_S) -> Step:
    """Until every node of ``step`` is fenced and recovered and each of its VMs runs elsewhere
    (or stays stopped with its reason in the fence record); records the recovery time."""
    def vm_done(vm: str, running: dict[str, list[str]]) -> bool:
        where = running.get(vm, [])
        if len(where) == 1 and where[0] not in step.nodes:
            return True
        for node in step.nodes:
            rec = w.fence(node, step.t0)
            s = rec.step(vm) if rec is not None else None
            if s is not None and s.state in (StepState.UNPLACED, StepState.FAILED):
                return True
        return False

    deadline = time.monotonic() + timeout
    while True:
        running = homes(w.lab_dir)
        if step.recovery_s is None and all(vm_done(vm, running) for vm in step.moved):
            step.recovery_s = round(time.time() - step.t0, 3)
        fences = {n: w.fence(n, step.t0) for n in step.nodes}
        if step.recovery_s is not None and all(f is not None and f.state is FenceState.RECOVERED for f in fences.values()):
            step.notes["fences"] = {n: fence_note(f, step.t0) for n, f in fences.items() if f is not None}
            return step
        if time.monotonic() >= deadline:
            step.error = (f"not recovered {timeout:g} s after {step.kind}: VMs {running}, "
                          f"fences {({n: f and f.state.value for n, f in fences.items()})}")
            return step
        time.sleep(0.1)


def fence_note(rec: FenceRecord, t0: float) -> dict[str, Any]:
    return {"declared_dead_s": round(rec.detected - t0, 3), "attempts": rec.attempts, "owner": rec.owner,
            "confirmed_off_s": round(rec.confirmed - t0, 3) if rec.confirmed else None,
            "steps": {s.vm: [s.target, s.state.value, s.error] for s in rec.steps}}


INFLICT: dict[str, Callable[[Path, str], Any]] = {
    "hang": faults.hang, "power": faults.cut_power, "partition": outages.partition}


def fail_nodes(w: World, kind: str, how: dict[str, str]) -> Step:
    """Inflict ``how[node]`` (a key of :data:`INFLICT`) on each node at once, then wait until
    they are fenced and their VMs run elsewhere."""
    nodes = tuple(sorted(how))
    step = Step(kind, nodes, time.time(), may_fence=frozenset(nodes), moved=vms_on(w, nodes),
                notes={"how": dict(how)})
    for node in nodes:
        INFLICT[how[node]](w.lab_dir, node)
    return await_recovery(w, step)


# -- the faults ------------------------------------------------------------------------------

def hang(w: World, rng: random.Random) -> Step:
    return fail_nodes(w, "hang", dict.fromkeys(pick(w, rng), "hang"))


def power(w: World, rng: random.Random) -> Step:
    return fail_nodes(w, "power", dict.fromkeys(pick(w, rng), "power"))


def partition(w: World, rng: random.Random) -> Step:
    return fail_nodes(w, "partition", dict.fromkeys(pick(w, rng), "partition"))


def two_nodes(w: World, rng: random.Random) -> Step:
    """Two nodes die at once, each by a hang or a power cut (drawn); with 3 nodes one is left."""
    return fail_nodes(w, "two-nodes", {n: rng.choice(["hang", "power"]) for n in pick(w, rng, 2)})


def bmc_dead(w: World, rng: random.Random) -> Step:
    """BMC unreachable + node hung: fence-failed and nothing moves; then the BMC answers again
    and the retry fences the node."""
    (node,) = pick(w, rng)
    bmc_pid = state.load(w.lab_dir).node(node).bmc.pid
    step = Step("bmc-dead", (node,), time.time(), may_fence=frozenset({node}), moved=vms_on(w, (node,)))
    procs.signal_pid(bmc_pid, signal.SIGSTOP)
    w.stopped_bmcs.add(node)
    faults.hang(w.lab_dir, node)
    try:
        wait_until(f"{node} fence-failed", lambda: (r := w.fence(node, step.t0)) and r.state is FenceState.FENCE_FAILED,
                 RECOVERY_TIMEOUT_S, every=0.1)
        running = homes(w.lab_dir)
        step.notes["while_fence_failed"] = {vm: running.get(vm, []) for vm in step.moved}
        if any(running.get(vm) != [node] for vm in step.moved):
            step.error = f"a VM moved while {node}'s fence had failed: {step.notes['while_fence_failed']}"
    except RuntimeError as exc:
        step.error = str(exc)
    finally:
        procs.signal_pid(bmc_pid, signal.SIGCONT)
        w.stopped_bmcs.discard(node)
    step.notes["bmc_back_s"] = round(time.time() - step.t0, 3)  # the recovery is timed from here too
    return step if step.error else await_recovery(w, step)


def clean_stop(w: World, rng: random.Random) -> Step:
    """The minion stops cleanly (SIGTERM; its init frozen so nothing respawns it): never fenced.
    Watched for the fence grace plus a margin, then the init resumes and respawns the minion."""
    (node,) = pick(w, rng)
    rec = state.load(w.lab_dir).node(node)
    step = Step("clean-stop", (node,), time.time(), clean=frozenset({node}))
    procs.signal_pid(rec.init_pid, signal.SIGSTOP)
    try:
        procs.signal_pid(rec.minion_pid, signal.SIGTERM)
        wait_until(f"{node} stopped", lambda: w.store.node(node).record.daemon_state is DaemonState.STOPPED, 30, every=0.1)
        time.sleep(w.grace + QUIET_MARGIN_S)
    except RuntimeError as exc:
        step.error = str(exc)
    finally:
        procs.signal_pid(rec.init_pid, signal.SIGCONT)
    try:
        wait_until(f"{node}'s minion respawned", lambda: w.store.node(node).record.daemon_state is DaemonState.RUN, 60, every=0.1)
    except RuntimeError as exc:
        step.error = step.error or str(exc)
    record_minion(w, node)
    return step


def record_minion(w: World, node: str) -> int:
    """Record in lab.json the PID of the minion the node runs now. Its init respawns a minion
    that stopped, and lab.json keeps the PID of the boot's first one: a later hang would
    SIGSTOP that stale (perhaps reused) PID and leave the live minion running."""
    rec = state.load(w.lab_dir).node(node)
    pid = procs.find_in(procs.in_pid_namespace(rec.init_pid), rec.minion_config_dir) if rec.init_pid else 0
    if pid and pid != rec.minion_pid:
        state.update_node(w.lab_dir, node, minion_pid=pid)
    return pid


def primary_kill(w: World, rng: random.Random) -> Step:
    """A node hangs; while its VMs are being started elsewhere the primary's coordinator and
    master are SIGKILLed (coordinator first, as a crashed host would lose them); the other
    master's coordinator must finish the recovery, each VM once."""
    (node,) = pick(w, rng)
    step = Step("primary-kill", (node,), time.time(), may_fence=frozenset({node}), moved=vms_on(w, (node,)))
    primary = wait_until("a primary", w.store.primary, 30, every=0.1).id
    lab = state.load(w.lab_dir)
    victim = next(m for m in lab.masters if coordinator_id(m) == primary)
    coord = coordinator_pid(victim)
    faults.hang(w.lab_dir, node)

    def recovering() -> bool:
        rec = w.fence(node, step.t0)
        return rec is not None and (rec.state is FenceState.RECOVERED or (
            rec.state is FenceState.FENCED and any(s.state is StepState.STARTING for s in rec.steps)))
    try:
        wait_until(f"{node}'s recovery under way", recovering, RECOVERY_TIMEOUT_S, every=0.005)
    except RuntimeError as exc:
        step.error = str(exc)
    rec = w.fence(node, step.t0)
    step.notes["killed"] = victim.name
    step.notes["done_before_kill"] = sum(s.state in FINAL_STEPS for s in rec.steps) if rec else 0
    os.kill(coord, signal.SIGKILL)
    os.kill(victim.pid, signal.SIGKILL)
    w.killed_masters.add(victim.name)
    procs.wait_dead([coord, victim.pid], 10)
    if step.error:
        return step
    new = wait_until("a new primary", lambda: (p := w.store.primary()) is not None and p.id != primary and p, 60, every=0.1)
    step.notes["new_primary"] = new.id
    return await_recovery(w, step)


def zk_leader(w: World, rng: random.Random) -> Step:
    """The ZooKeeper ensemble's leader is SIGKILLed: the sessions move to the others, no node is
    fenced (watched for the grace plus a margin). Restarted by the repair. (Nothing to draw:
    ``rng`` is unused.)"""
    leader = outages.zk_leader(w.lab_dir)
    step = Step("zk-leader", (), time.time(), notes={"server": leader})
    outages.kill_zk(w.lab_dir, leader)
    w.killed_zk.add(leader)
    time.sleep(w.grace + QUIET_MARGIN_S)
    step.notes["modes"] = outages.zk_modes(w.lab_dir)
    return step


FAULTS: dict[str, Fault] = {
    "hang": hang, "power": power, "bmc-dead": bmc_dead, "clean-stop": clean_stop, "two-nodes": two_nodes,
    "primary-kill": primary_kill, "zk-leader": zk_leader, "partition": partition,
}


# -- the repair ------------------------------------------------------------------------------

def restart_master(w: World, name: str) -> None:
    lab = state.load(w.lab_dir)
    back = masters.start(next(m for m in lab.masters if m.name == name))
    state.update(w.lab_dir, lambda lab: dataclasses.replace(
        lab, masters=tuple(back if m.name == back.name else m for m in lab.masters)))
    masters.wait_ready(back)


def repair(w: World) -> Step:
    """Everything back: BMCs resumed, ZooKeeper servers and masters restarted, links up, nodes
    that are off powered on and those on resumed, every fenced node returned with
    ``pvc node ready --wait``."""
    step = Step("repair", (), time.time())
    for name in sorted(w.stopped_bmcs):
        procs.signal_pid(state.load(w.lab_dir).node(name).bmc.pid, signal.SIGCONT)
    w.stopped_bmcs.clear()
    for server in sorted(w.killed_zk):
        outages.restart_zk(w.lab_dir, server)
    w.killed_zk.clear()
    for master in sorted(w.killed_masters):
        restart_master(w, master)
    w.killed_masters.clear()
    lab = state.load(w.lab_dir)
    for node in lab.nodes:
        outages.heal(w.lab_dir, node.name)
        if node.power != "on":
            faults.power(w.lab_dir, node.name, "on")
        elif record_minion(w, node.name):
            faults.resume(w.lab_dir, node.name)  # a hang that was not fenced (it should have been)
    names = [node.name for node in lab.nodes]
    wait_until(f"{names} alive in ZooKeeper", lambda: set(names) <= set(w.store.alive()), BACK_TIMEOUT_S, every=0.2)
    back = []
    for name in names:
        if w.store.node(name).record.daemon_state is not DaemonState.RUN:
            ready = pvc_json("-c", w.master_dir, "node", "ready", name, "--wait", "--timeout", "240", timeout=270)
            if ready.get("state") != "done":
                step.error = f"node ready {name}: {ready}"
            back.append(name)
            rebooted = step.notes.setdefault("rebooted_by_ready", [])  # not live: the guest boots again
            rebooted += [s["vm"] for s in ready.get("steps", []) if s.get("state") == "done" and s.get("method") != "live"]
    step.nodes = tuple(back)
    return step
