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
* ``two-fencers``: open fences never owned by two coordinators at once.

Example::

    found = check(world, step, watcher.since(step.t0))   # [] when all hold
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.chaos_faults import Step, World
from bench.chaos_watch import Sight
from pvc.cluster.errors import RecordNotFound
from pvc.lab import state
from pvc.lab.invariants import snapshot
from pvc.runners.fencetree import FenceRecord, FenceState, StepState

DEAD_LINE = "power off: node dead"


@dataclass(frozen=True)
class Violation:
    invariant: str
    detail: str
    step: int = -1

    def __str__(self) -> str:
        return f"step {self.step}: {self.invariant}: {self.detail}"


def bmc_log(lab_dir: Path, node: str, since: float) -> list[tuple[float, str]]:
    """(Unix time, text) of each line the node's BMC logged from ``since`` on (other output of
    the boots it spawned, without a time stamp, is skipped)."""
    log = Path(state.load(lab_dir).node(node).bmc.dir) / "chassis.log"
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        stamp, _, rest = line.partition(" ")
        try:
            at = float(stamp)
        except ValueError:
            continue
        if at >= since:
            out.append((at, rest))
    return out


def power_offs(lab_dir: Path, node: str, since: float) -> list[float]:
    """Moments the node's BMC log records the node dead after a power-off."""
    return [at for at, text in bmc_log(lab_dir, node, since) if text.startswith(DEAD_LINE)]


def power_off_orders(lab_dir: Path, node: str, since: float) -> int:
    return sum(1 for _, text in bmc_log(lab_dir, node, since) if text == "set power 0")


def check(w: World, step: Step, sight: Sight) -> list[Violation]:
    found = [Violation("double-run", f"{s.vm} on {', '.join(s.nodes)} at +{s.at - step.t0:.2f} s")
             for s in sight.double_runs]
    found += [Violation("two-fencers", f"open fences owned by {', '.join(s.nodes)} at +{s.at - step.t0:.2f} s")
              for s in sight.fencers]
    fences = {n: f.record for n, f in w.fences.all().items() if f.record.detected >= step.t0}
    for node, rec in sorted(fences.items()):
        if node in step.clean:
            found.append(Violation("clean-fenced", f"{node} stopped cleanly and was fenced ({rec.state.value})"))
        elif node not in step.may_fence:
            found.append(Violation("false-fence", f"{node} fenced ({rec.state.value}) after a {step.kind}"))
        found += early_starts(w, step, rec, sight)
    for node in sorted(step.clean - set(fences)):
        if power_off_orders(w.lab_dir, node, step.t0):
            found.append(Violation("clean-fenced", f"{node} stopped cleanly and its BMC got a power-off order"))
    found += lost(w, step, fences)
    return found


def early_starts(w: World, step: Step, rec: FenceRecord, sight: Sight) -> list[Violation]:
    done = [s for s in rec.steps if s.state is StepState.DONE]
    if not done:
        return []
    if rec.confirmed is None:
        return [Violation("early-start", f"{rec.node}: VMs {[s.vm for s in done]} started, power-off never confirmed")]
    found = [Violation("early-start", f"{s.vm} started on {s.target} {rec.confirmed - (s.done_at or 0):.3f} s "
                                      f"before {rec.node} was confirmed off")
             for s in done if s.done_at is None or s.done_at < rec.confirmed]
    deaths = [t for t in power_offs(w.lab_dir, rec.node, step.t0) if t <= rec.confirmed]
    if not deaths:
        return [*found, Violation("early-start", f"{rec.node} confirmed off but its BMC log shows no death since "
                                                 f"the {step.kind}")]
    death = deaths[-1]
    for s in done:
        first = next((m.at for m in sight.moves if m.vm == s.vm and s.target in m.nodes), None)
        if first is not None and first < death:
            found.append(Violation("early-start", f"{s.vm} seen running on {s.target} {death - first:.3f} s "
                                                  f"before {rec.node} died"))
    return found


def lost(w: World, step: Step, fences: dict[str, FenceRecord]) -> list[Violation]:
    homes = snapshot(w.lab_dir).homes()
    waiting = {n for n, f in (fences | {n: v.record for n, v in w.fences.all().items()}).items()
               if f.state in (FenceState.DEAD, FenceState.FENCE_FAILED)}
    stopped_with_reason = {s.vm for f in w.fences.all().values() for s in f.record.steps
                           if s.state in (StepState.UNPLACED, StepState.FAILED) and s.error}
    found = []
    for vm in w.vms:
        try:
            record = w.store.vm(vm).record
        except RecordNotFound:
            found.append(Violation("lost", f"{vm}: no longer defined in the cluster"))
            continue
        where = homes.get(vm, [])
        if len(where) == 1 or vm in stopped_with_reason or record.node in waiting:
            continue
        if not where:
            reason = record.failure_reason or (step.error and f"the {step.kind} step failed")
            found.append(Violation("lost", f"{vm} runs nowhere (ZooKeeper: node {record.node}"
                                           f"{', reason ' + reason if reason else ''})"))
    return found
