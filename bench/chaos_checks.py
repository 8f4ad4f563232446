"""The chaos run's safety invariants, checked after every step (issue 10 §5).

Read from where the truth is — every node's libvirt (the watcher's samples and a snapshot now),
the BMCs' power logs (when a node was really off), the fence records in ZooKeeper:

* ``double-run``: no VM ran on two nodes, at any sample of the step or now;
* ``lost``: every VM still defined, and running on exactly one node, unless it is legitimately
  waiting (its node's fence has failed and nothing may move) or stays stopped with its reason
  (the fence's step says unplaced/failed), or the step itself timed out;
* ``early-start``: no VM of a fenced node started elsewhere before that node was off — each done
  recovery step after the fence's confirmed power-off, the confirmation after the BMC's log
  says the node died, and the VM first seen running on its new node after that death;
* ``false-fence`` / ``clean-fenced``: no fence of a node the step had no reason to fence, and
  never of a node that stopped cleanly (no fence record, no power-off order in its BMC's log);
* ``two-fencers``: open fences never owned by two coordinators at once (the owner is who last
  tried the power-off; a new primary finishing an old one's recovery leaves it, so this could
  only misfire if two nodes died across a primary change — no fault here does that);
* ``started-twice`` (at the end of the run): no guest booted more often than it was started —
  once at its definition, once per recovery that started it, once per return that was not a
  live migration — counted from its serial console (a start on two nodes that the samples
  missed still shows there).

The reading (:func:`gather`) is apart from the judging (:func:`check`, pure), so each invariant
is tested on made-up evidence too (tests/bench/test_chaos_checks.py).

Example::

    found = check(step, watcher.since(step.t0), gather(world, step))   # [] when all hold
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.chaos_faults import Step, World, homes
from bench.chaos_watch import Sight
from pvc.cluster.errors import RecordNotFound
from pvc.cluster.records import VMRecord
from pvc.lab import state
from pvc.runners.fencetree import FenceRecord, FenceState, StepState

DEAD_LINE = "power off: node dead"


@dataclass(frozen=True)
class Violation:
    invariant: str
    detail: str
    step: int = -1

    def __str__(self) -> str:
        return f"step {self.step}: {self.invariant}: {self.detail}"


def parse_bmc_log(text: str, since: float) -> list[tuple[float, str]]:
    """(Unix time, text) of each line of a BMC's chassis.log from ``since`` on; lines without a
    time stamp (output of the boots it spawned) are skipped."""
    out = []
    for line in text.splitlines():
        stamp, _, rest = line.partition(" ")
        try:
            at = float(stamp)
        except ValueError:
            continue
        if at >= since:
            out.append((at, rest))
    return out


def bmc_log(lab_dir: Path, node: str, since: float) -> list[tuple[float, str]]:
    log = Path(state.load(lab_dir).node(node).bmc.dir) / "chassis.log"
    try:
        return parse_bmc_log(log.read_text(errors="replace"), since)
    except OSError:
        return []


def power_offs(lab_dir: Path, node: str, since: float) -> list[float]:
    """Moments the node's BMC log records the node dead after a power-off."""
    return [at for at, text in bmc_log(lab_dir, node, since) if text.startswith(DEAD_LINE)]


def power_off_orders(lab_dir: Path, node: str, since: float) -> int:
    return sum(1 for _, text in bmc_log(lab_dir, node, since) if text == "set power 0")


@dataclass(frozen=True)
class Evidence:
    """What the checks read at a step's end, gathered once by :func:`gather`: every node's
    latest fence record, the deaths and power-off orders its BMC logged since the step began,
    where each VM runs (its nodes' libvirt) and each VM's record (None: no longer defined)."""

    fences: Mapping[str, FenceRecord]
    deaths: Mapping[str, list[float]]
    off_orders: Mapping[str, int]
    homes: Mapping[str, list[str]]
    vms: Mapping[str, VMRecord | None]


def gather(w: World, step: Step) -> Evidence:
    nodes = [n.name for n in state.load(w.lab_dir).nodes]
    vms: dict[str, VMRecord | None] = {}
    for vm in w.vms:
        try:
            vms[vm] = w.store.vm(vm).record
        except RecordNotFound:
            vms[vm] = None
    return Evidence(fences={n: f.record for n, f in w.fences.all().items()},
                    deaths={n: power_offs(w.lab_dir, n, step.t0) for n in nodes},
                    off_orders={n: power_off_orders(w.lab_dir, n, step.t0) for n in nodes},
                    homes=homes(w.lab_dir), vms=vms)


def check(step: Step, sight: Sight, ev: Evidence) -> list[Violation]:
    """Every invariant over one step: what the watcher saw during it and the evidence at its end."""
    found = [Violation("double-run", f"{s.vm} on {', '.join(s.nodes)} at +{s.at - step.t0:.2f} s")
             for s in sight.double_runs]
    found += [Violation("two-fencers", f"open fences owned by {', '.join(s.nodes)} at +{s.at - step.t0:.2f} s")
              for s in sight.fencers]
    opened = {n: f for n, f in ev.fences.items() if f.detected >= step.t0}
    for node, rec in sorted(opened.items()):
        if node in step.clean:
            found.append(Violation("clean-fenced", f"{node} stopped cleanly and was fenced ({rec.state.value})"))
        elif node not in step.may_fence:
            found.append(Violation("false-fence", f"{node} fenced ({rec.state.value}) after a {step.kind}"))
        found += early_starts(step, rec, ev.deaths.get(node, []), sight)
    found += [Violation("clean-fenced", f"{node} stopped cleanly and its BMC got a power-off order")
              for node in sorted(step.clean - set(opened)) if ev.off_orders.get(node)]
    return found + lost(step, ev)


def early_starts(step: Step, rec: FenceRecord, deaths: list[float], sight: Sight) -> list[Violation]:
    """Each VM of fence ``rec`` started elsewhere only after the node died (``deaths``: the
    moments its BMC logged it dead) and the fence confirmed it off."""
    done = [s for s in rec.steps if s.state is StepState.DONE]
    if not done:
        return []
    if rec.confirmed is None:
        return [Violation("early-start", f"{rec.node}: VMs {[s.vm for s in done]} started, power-off never confirmed")]
    found = [Violation("early-start", f"{s.vm} started on {s.target} {rec.confirmed - (s.done_at or 0):.3f} s "
                                      f"before {rec.node} was confirmed off")
             for s in done if s.done_at is None or s.done_at < rec.confirmed]
    before = [t for t in deaths if t <= rec.confirmed]
    if not before:
        return [*found, Violation("early-start", f"{rec.node} confirmed off but its BMC log shows no death since "
                                                 f"the {step.kind}")]
    death = before[-1]
    for s in done:
        first = next((m.at for m in sight.moves if m.vm == s.vm and s.target in m.nodes), None)
        if first is not None and first < death:
            found.append(Violation("early-start", f"{s.vm} seen running on {s.target} {death - first:.3f} s "
                                                  f"before {rec.node} died"))
    return found


def lost(step: Step, ev: Evidence) -> list[Violation]:
    """Every VM defined and running on one node, unless legitimately waiting (its node's fence
    not confirmed: nothing may move) or stopped with its reason."""
    waiting = {n for n, f in ev.fences.items() if f.state in (FenceState.DEAD, FenceState.FENCE_FAILED)}
    with_reason = {s.vm for f in ev.fences.values() for s in f.steps
                   if s.state in (StepState.UNPLACED, StepState.FAILED) and s.error}
    found = []
    for vm, record in sorted(ev.vms.items()):
        if record is None:
            found.append(Violation("lost", f"{vm}: no longer defined in the cluster"))
            continue
        where = ev.homes.get(vm, [])
        if where or vm in with_reason or record.node in waiting:
            continue  # two nodes is a double run, reported above
        reason = record.failure_reason or (step.error and f"the {step.kind} step failed")
        found.append(Violation("lost", f"{vm} runs nowhere (ZooKeeper: node {record.node}"
                                       f"{', reason ' + reason if reason else ''})"))
    return found


def started_by(step: Step, ev: Evidence) -> list[str]:
    """The VMs this step started anew: recovered from a fence opened in it, or moved back by a
    return that was not live."""
    return [*(s.vm for f in ev.fences.values() if f.detected >= step.t0 for s in f.steps
              if s.state is StepState.DONE and s.start), *step.notes.get("rebooted_by_ready", [])]


def extra_boots(expected: Mapping[str, int], boots: Mapping[str, int]) -> list[Violation]:
    """Guests that booted more often than they were started."""
    return [Violation("started-twice", f"{vm} booted {boots[vm]} times, started {n} times")
            for vm, n in sorted(expected.items()) if boots.get(vm, 0) > n]
