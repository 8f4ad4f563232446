"""Start a fenced node's VMs on other nodes: planned once, each step written to ZooKeeper first.

Only ever called for a node whose power-off the BMC **confirmed** (or, by the operator's choice,
``failed_fence: migrate``). The plan is placement's, as for a flush: the VM's selector and node
limit, memory never overcommitted; a VM that fits nowhere stays stopped on the dead node with the
reason in its record and an event (``pvc/vm/<vm>/unplaced``). For each placed VM, on its target:
break its RBD images' locks with blocklisting (the dead node's librbd can never write again, even
if it was not quite dead), define it, start it (if its desired state says so); then, in one
transaction, the step is DONE and the VM record names its new node with ``last_node`` = the
fenced node (``pvc node ready`` brings it back). Event ``pvc/vm/<vm>/recovered`` with the seconds
since the node was declared dead.

Exactly once across a primary failover: a step left STARTING is repeated, and the repetition is
harmless (redefine keeps the UUID, start leaves a running VM alone, a lock already broken is not
listed). A step whose jobs fail is retried (re-placed, in case its target died) up to
:data:`MAX_ATTEMPTS` times, then FAILED with the reason.

Example::

    steps = plan_steps(store, "hv1")
    Recovery(ctx, parallel=4).run("hv1")      # the final FenceRecord
"""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pvc import events
from pvc.cluster.errors import RecordNotFound
from pvc.cluster.records import VMRecord, VMState
from pvc.cluster.store import Batch, ClusterStore
from pvc.runners.context import RunnerContext
from pvc.runners.fencetree import FINAL_STEPS, FenceRecord, FenceState, FenceTree, RecoveryStep, StepState
from pvc.runners.inventory import node_views, vm_demand
from pvc.runners.placement import Move, make_plan
from pvc.runners.relocate import moved
from pvc.runners.vmxml import rbd_images

MAX_ATTEMPTS = 3
JOB_TIMEOUT = 60.0
# desired states whose VM runs: it is started on its new node (the others are only defined there)
RUNNING_STATES = frozenset({VMState.START, VMState.RESTART, VMState.MIGRATE, VMState.UNMIGRATE})


def plan_steps(store: ClusterStore, node: str, only: set[str] | None = None) -> tuple[RecoveryStep, ...]:
    """A step for each VM placed on ``node`` (or those named in ``only``): its target, or UNPLACED."""
    default = store.config().record.default_selector
    vms = [v.record for v in store.vms() if v.record.node == node and (only is None or v.record.name in only)]
    plan = make_plan(node_views(store), [vm_demand(v, default) for v in vms], exclude={node})
    targets = {m.vm: m for m in plan.moves}
    reasons = {u.vm: u.reason for u in plan.unplaced}
    return tuple(_step(v, targets.get(v.name), reasons.get(v.name, "")) for v in vms)


def _step(vm: VMRecord, move: Move | None, reason: str) -> RecoveryStep:
    start = vm.desired_state in RUNNING_STATES
    if move is None:
        return RecoveryStep(vm.name, "", start, StepState.UNPLACED, error=reason)
    return RecoveryStep(vm.name, move.target, start)


class Recovery:
    def __init__(self, ctx: RunnerContext, parallel: int = 4, cancel: threading.Event | None = None) -> None:
        self.ctx, self.parallel = ctx, max(1, parallel)
        self.cancel = cancel or threading.Event()
        self.fences = FenceTree(ctx.store)

    def fire(self, tag: str, data: dict[str, Any]) -> None:
        try:
            self.ctx.fire_event(tag, data)
        except Exception as exc:  # noqa: BLE001 - the bus is an observer: recovery goes on without it
            self.ctx.log.warning("event %s not fired: %s", tag, exc)

    def run(self, node: str) -> FenceRecord | None:
        """Carry out every unfinished step of ``node``'s fence; close it once all are final."""
        found = self.fences.get(node)
        if found is None or found.record.state not in (FenceState.FENCED, FenceState.FENCE_FAILED):
            return None if found is None else found.record
        rec = found.record
        for step in rec.steps:
            if step.state is StepState.UNPLACED:
                self._leave_stopped(rec, step)
        todo = [s for s in rec.steps if s.state not in FINAL_STEPS]
        if todo:
            with ThreadPoolExecutor(max_workers=min(self.parallel, len(todo)), thread_name_prefix=f"recover-{node}") as pool:
                list(pool.map(lambda s: self._carry_out(rec, s), todo))
        if self.cancel.is_set():
            return self._current(node)
        return self._close(node)

    def _current(self, node: str) -> FenceRecord | None:
        found = self.fences.get(node)
        return None if found is None else found.record

    def _close(self, node: str) -> FenceRecord | None:
        def change(r: FenceRecord) -> FenceRecord:
            if r.state is not FenceState.FENCED or not all(s.state in FINAL_STEPS for s in r.steps):
                return r
            return dataclasses.replace(r, state=FenceState.RECOVERED, finished=time.time())

        before = self._current(node)
        after = self.fences.update(node, change)
        if after is not None and before is not None and before.state is not after.state:
            counts = {s.value: sum(1 for x in after.steps if x.state is s) for s in StepState}
            self.fire(events.node(node, "recovered"),
                      {"node": node, "seconds": round((after.finished or 0) - after.detected, 3), **counts})
        return after

    def _leave_stopped(self, rec: FenceRecord, step: RecoveryStep) -> None:
        """An unplaced VM stays where it was (stopped with its node): reason in its record, an event."""
        try:
            current = self.ctx.store.vm(step.vm)
        except RecordNotFound:
            return
        reason = f"not recovered from fenced node {rec.node}: {step.error}"
        if current.record.failure_reason == reason:
            return
        with self.ctx.store.batch() as b:
            b.put_vm(dataclasses.replace(current.record, failure_reason=reason), current.version)
        self.fire(events.vm(step.vm, "unplaced"), {"vm": step.vm, "node": rec.node, "reason": step.error})

    def _carry_out(self, rec: FenceRecord, step: RecoveryStep) -> None:
        if self.cancel.is_set():
            return
        node = rec.node
        try:
            self._recover(rec, step)
        except Exception as exc:  # noqa: BLE001 - one VM's failure is recorded, the others go on
            attempts, error = step.attempts + 1, str(exc)
            final = attempts >= MAX_ATTEMPTS
            self.ctx.log.warning("recovery of %s from %s (attempt %d): %s", step.vm, node, attempts, error)
            self.fences.update(node, lambda r: r.with_step(step.vm, state=StepState.FAILED if final else StepState.PLANNED,
                                                           attempts=attempts, error=error))
            if final:
                self.fire(events.vm(step.vm, "recovery-failed"), {"vm": step.vm, "node": node, "error": error})

    def _recover(self, rec: FenceRecord, step: RecoveryStep) -> None:
        node, store = rec.node, self.ctx.store
        try:
            vm = store.vm(step.vm).record
        except RecordNotFound:
            self.fences.update(node, lambda r: r.with_step(step.vm, state=StepState.DONE, error="VM removed meanwhile"))
            return
        if vm.node != node:  # moved by someone else (or by us, before a failover): nothing to start
            self.fences.update(node, lambda r: r.with_step(step.vm, state=StepState.DONE, done_at=time.time(),
                                                           error=f"on {vm.node} already"))
            return
        target = step.target
        if step.error:  # a previous attempt failed: its target may be gone, place it again
            again = plan_steps(store, node, only={step.vm})
            if not again or again[0].state is StepState.UNPLACED:
                why = again[0].error if again else "no longer placed on the fenced node"
                self.fences.update(node, lambda r: r.with_step(step.vm, state=StepState.UNPLACED, error=why))
                self._leave_stopped(rec, dataclasses.replace(step, error=why))
                return
            target = again[0].target
        self.fences.update(node, lambda r: r.with_step(step.vm, target=target, state=StepState.STARTING,
                                                       attempts=step.attempts + 1))
        self._break_locks(vm, target)
        self.ctx.jobs.call(target, "virt.define", [], {"xml": vm.definition}, timeout=JOB_TIMEOUT)
        if step.start:
            self.ctx.jobs.call(target, "virt.start", [vm.name], timeout=JOB_TIMEOUT)
        done_at = time.time()

        def vm_moved(_: FenceRecord, b: Batch) -> None:
            current = store.vm(step.vm)
            b.put_vm(moved(current.record, target, node), current.version)

        self.fences.update(node, lambda r: r.with_step(step.vm, target=target, state=StepState.DONE, done_at=done_at,
                                                       error=""), vm_moved)
        self.fire(events.vm(step.vm, "recovered"),
                  {"vm": step.vm, "from": node, "node": target, "started": step.start,
                   "seconds": round(done_at - rec.detected, 3)})

    def _break_locks(self, vm: VMRecord, target: str) -> None:
        """Every lock on the VM's RBD images, broken with blocklisting, from the target node."""
        for pool, image in rbd_images(vm.definition):
            for lock in self.ctx.jobs.call(target, "ceph.lock_list", [pool, image], timeout=JOB_TIMEOUT) or []:
                if not isinstance(lock, dict):
                    continue
                self.ctx.jobs.call(target, "ceph.lock_break", [pool, image, str(lock.get("client")),
                                                               str(lock.get("cookie"))],
                                   {"blocklist": True}, timeout=JOB_TIMEOUT)
                self.fire(events.vm(vm.name, "lock-broken"), {"vm": vm.name, "image": f"{pool}/{image}",
                                                              "client": lock.get("client"), "node": target})
