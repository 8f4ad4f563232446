"""Declare a node dead, power it off through its BMC, and record whether the BMC confirmed it.

:meth:`Fencer.declare` writes the node ``dead`` and opens its :class:`~pvc.runners.fencetree.FenceRecord`
in one transaction that names the node record's version: a keepalive that lands in between (the
node came back) makes it fail, and nothing is fenced. :meth:`Fencer.fence` then looks once more —
a node whose session and keepalive are back before the power-off is **cancelled** (``run``
again) — and otherwise powers it off with :func:`pvc.ipmi.confirm_off`, bounded by
``confirm_timeout``:

* confirmed off -> node ``fenced`` (domain ``flushed``: ``pvc node ready`` brings its VMs back),
  the recovery plan written in the same transaction, event ``pvc/node/<n>/fenced``;
* not confirmed (BMC unreachable, login refused, still on, no BMC configured) -> node
  ``fence-failed``, the error and the next attempt (backoff doubling from ``retry_delay`` to
  ``retry_max_delay``) recorded, event ``pvc/node/<n>/fence-failed``; no VM moves unless the
  cluster's ``failed_fence`` is ``migrate`` (then the plan is written too).

The BMC password stays in its 0600 file on this master (``cluster: fence: bmc:``): ipmitool reads
it with ``-f``; neither ZooKeeper nor any command line ever holds it.

Example::

    fencer = Fencer(ctx, master_cfg.cluster.fence, cancel=stop)
    fencer.declare(Dead("hv1", keepalive=..., age=7.1))
    fencer.fence("hv1").state          # FenceState.FENCED
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from typing import Any

from pvc import events
from pvc.cluster.errors import RecordNotFound, TransactionConflict
from pvc.cluster.records import DaemonState, DomainState, FailedFencePolicy
from pvc.config import FenceSection
from pvc.ipmi import Bmc, BmcError, BmcTarget, FenceResult, confirm_off, target_from_mapping
from pvc.runners.context import RunnerContext
from pvc.runners.deadnodes import Dead
from pvc.runners.fencetree import FenceRecord, FenceState, FenceTree
from pvc.runners.recovery import plan_steps

BMC_CALL_TIMEOUT = 5.0  # each ipmitool run; the whole power-off is bounded by confirm_timeout


def load_targets(bmc: Mapping[str, Any]) -> dict[str, BmcTarget | BmcError]:
    """Each configured node's BMC, or the one-line reason it is unusable (checked at start, so a
    bad password file is in the log long before a fence needs it)."""
    out: dict[str, BmcTarget | BmcError] = {}
    for node, section in bmc.items():
        try:
            out[str(node)] = target_from_mapping(section, f"cluster: fence: bmc: {node}")
        except BmcError as exc:
            out[str(node)] = exc
    return out


class Fencer:
    def __init__(self, ctx: RunnerContext, cfg: FenceSection, cancel: threading.Event | None = None) -> None:
        self.ctx, self.cfg = ctx, cfg
        self.cancel = cancel or threading.Event()
        self.fences = FenceTree(ctx.store)
        self.targets = load_targets(cfg.bmc)
        for node, found in self.targets.items():
            if isinstance(found, BmcError):
                ctx.log.error("fencing of %s impossible: %s", node, found)

    def fire(self, node: str, what: str, **data: Any) -> None:
        try:
            self.ctx.fire_event(events.node(node, what), {"node": node, **data})
        except Exception as exc:  # noqa: BLE001 - the bus is an observer: a fence goes on without it
            self.ctx.log.warning("event %s/%s not fired: %s", node, what, exc)

    def declare(self, dead: Dead) -> FenceRecord | None:
        """Mark ``dead.node`` dead and open its fence, unless its record moved since the verdict."""
        store = self.ctx.store
        try:
            current = store.node(dead.node)
        except RecordNotFound:
            return None
        if current.record.daemon_state is not DaemonState.RUN or current.record.keepalive != dead.keepalive:
            return None
        previous = self.fences.get(dead.node)
        if previous is not None and previous.record.open:
            return None
        record = FenceRecord(dead.node, FenceState.DEAD, time.time(), dead.keepalive, self.ctx.identity)
        try:
            with store.batch() as b:
                b.put_node(dataclasses.replace(current.record, daemon_state=DaemonState.DEAD), current.version)
                self.fences.put(b, record, None if previous is None else previous.version)
        except TransactionConflict:
            return None  # a keepalive (or another fencer) got there first
        self.ctx.log.warning("node %s dead: no session, last keepalive %.1f s ago", dead.node, dead.age)
        self.fire(dead.node, "dead", keepalive_age=round(dead.age, 3))
        return record

    def fence(self, node: str) -> FenceRecord | None:
        """Power ``node`` off and record the outcome (a no-op unless it is dead or fence-failed)."""
        found = self.fences.get(node)
        if found is None or found.record.state not in (FenceState.DEAD, FenceState.FENCE_FAILED):
            return None if found is None else found.record
        rec = found.record
        if self._came_back(rec):
            return self._cancel(node)
        attempt = rec.attempts + 1
        target = self.targets.get(node)
        if target is None:
            return self._failed(rec, attempt, f"no BMC configured for {node} (cluster: fence: bmc: {node}: ...)")
        if isinstance(target, BmcError):
            return self._failed(rec, attempt, str(target))
        self.ctx.log.warning("fencing %s through BMC %s (attempt %d)", node, target.label, attempt)
        result = confirm_off(Bmc(target, timeout=min(BMC_CALL_TIMEOUT, self.cfg.confirm_timeout), cancel=self.cancel),
                             deadline=self.cfg.confirm_timeout, poll=self.cfg.poll, cancel=self.cancel)
        if result.confirmed:
            return self._fenced(rec, attempt, result)
        if self.cancel.is_set():
            return rec  # lost the primary seat mid-fence: the next primary starts this attempt again
        return self._failed(rec, attempt, str(result.error))

    def _came_back(self, rec: FenceRecord) -> bool:
        """Session and a fresh keepalive again, and none of its VMs moved yet: not dead after all."""
        if any(s.done_at is not None for s in rec.steps):
            return False  # its VMs run elsewhere now: it must be fenced, whatever it says
        store = self.ctx.store
        node = store.node(rec.node).record
        grace = store.config().record.fence_grace
        return (rec.node in store.alive() and node.keepalive is not None
                and node.keepalive > (rec.last_keepalive or 0) and time.time() - node.keepalive < grace)

    def _cancel(self, node: str) -> FenceRecord | None:
        def node_run(_: FenceRecord, b: Any) -> None:
            current = self.ctx.store.node(node)
            b.put_node(dataclasses.replace(current.record, daemon_state=DaemonState.RUN), current.version)

        rec = self.fences.update(node, lambda r: dataclasses.replace(r, state=FenceState.CANCELLED,
                                                                    finished=time.time()), node_run)
        self.ctx.log.warning("fence of %s cancelled: it is back", node)
        self.fire(node, "fence-cancelled")
        return rec

    def _set_node(self, node: str, daemon: DaemonState, domain: DomainState | None = None) -> Any:
        def extra(_: FenceRecord, b: Any) -> None:
            current = self.ctx.store.node(node)
            b.put_node(dataclasses.replace(current.record, daemon_state=daemon,
                                           domain_state=domain or current.record.domain_state), current.version)
        return extra

    def _fenced(self, rec: FenceRecord, attempt: int, result: FenceResult) -> FenceRecord | None:
        now = time.time()
        steps = rec.steps or plan_steps(self.ctx.store, rec.node)
        new = self.fences.update(rec.node, lambda r: dataclasses.replace(
            r, state=FenceState.FENCED, attempts=attempt, confirmed=now, error="", steps=r.steps or steps,
            owner=self.ctx.identity), self._set_node(rec.node, DaemonState.FENCED, DomainState.FLUSHED))
        self.ctx.log.warning("node %s fenced: power-off confirmed in %.2f s", rec.node, result.elapsed)
        self.fire(rec.node, "fenced", attempts=attempt, confirm_seconds=round(result.elapsed, 3),
                  seconds=round(now - rec.detected, 3), vms=[s.vm for s in steps])
        return new

    def _failed(self, rec: FenceRecord, attempt: int, error: str) -> FenceRecord | None:
        delay = min(self.cfg.retry_max_delay, self.cfg.retry_delay * 2 ** (attempt - 1))
        migrate = self.ctx.store.config().record.failed_fence is FailedFencePolicy.MIGRATE
        steps = rec.steps or (plan_steps(self.ctx.store, rec.node) if migrate else ())
        new = self.fences.update(rec.node, lambda r: dataclasses.replace(
            r, state=FenceState.FENCE_FAILED, attempts=attempt, error=error, next_attempt=time.time() + delay,
            steps=r.steps or steps, owner=self.ctx.identity), self._set_node(rec.node, DaemonState.FENCE_FAILED))
        self.ctx.log.error("fence of %s failed (attempt %d, next in %.0f s): %s", rec.node, attempt, delay, error)
        self.fire(rec.node, "fence-failed", attempts=attempt, error=error, retry_in=delay,
                  vms_moved=bool(steps))
        return new
