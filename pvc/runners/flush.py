"""Flush and ready: plan, then move the VMs with bounded parallelism, every step written to ZK.

A request (:class:`~pvc.runners.tree.NodeRequest`) goes PENDING -> RUNNING (with its planned
steps, and the node's domain state ``flushing``/``unflushing`` in the same transaction) -> DONE
(node ``flushed``/``ready``) or FAILED. Each step goes PLANNED -> MIGRATING (before the job is
sent) -> DONE (in one transaction with the VM record's new node and last_node) or FAILED. A
primary that takes over finds RUNNING requests and resumes them: DONE steps are skipped; a step
left MIGRATING is first *located* (the old primary's job may have finished, or still run on the
source), so every VM moves exactly once.

A flush whose plan leaves a VM without a target fails before anything moves; a ready brings
back what fits on the node and reports the rest.

Example::

    runner = RequestRunner(ctx, owner="m1")
    runner.run("hv2", stop=threading.Event())     # the final NodeRequest
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pvc import events
from pvc.cluster.records import DomainState, NodeRecord, VMRecord
from pvc.cluster.store import Batch, ClusterStore, compare_and_set
from pvc.runners.context import RunnerContext
from pvc.runners.errors import NodeJobFailed
from pvc.runners.inventory import node_views, vm_demand
from pvc.runners.placement import Plan, make_plan
from pvc.runners.relocate import migrate, moved, settle
from pvc.runners.tree import NodeRequest, RequestKind, RequestState, RunnerTree, Step, StepState

_DOMAIN = {RequestKind.FLUSH: (DomainState.FLUSHING, DomainState.FLUSHED),
           RequestKind.READY: (DomainState.UNFLUSHING, DomainState.READY)}


def plan_for(store: ClusterStore, node: str, kind: RequestKind) -> tuple[Plan, list[VMRecord]]:
    """The plan of a flush (every VM on ``node`` elsewhere) or a ready (every VM whose last node is
    ``node`` back to it), and the VMs it covers."""
    default = store.config().record.default_selector
    vms = [v.record for v in store.vms()]
    if kind is RequestKind.FLUSH:
        mine = [v for v in vms if v.node == node]
        return make_plan(node_views(store), [vm_demand(v, default) for v in mine], exclude={node}), mine
    back = [v for v in vms if v.last_node == node and v.node != node]
    return make_plan(node_views(store, ready=[node]), [vm_demand(v, default) for v in back],
                     targets={v.name: node for v in back}), back


class RequestRunner:
    """Carries out the open request of a node (see the module docstring)."""

    def __init__(self, ctx: RunnerContext, owner: str) -> None:
        self.ctx, self.owner = ctx, owner
        self.tree = RunnerTree(ctx.store)
        self._write = threading.Lock()  # one writer of a request at a time in this process

    def fire(self, req: NodeRequest, what: str, **data: Any) -> None:
        try:
            self.ctx.fire_event(events.node(req.node, f"{req.kind.value}/{what}"),
                                {"node": req.node, "request": req.id, **data})
        except Exception as exc:  # noqa: BLE001 - the bus is an observer: a flush goes on without it
            self.ctx.log.warning("event %s/%s not fired: %s", req.kind.value, what, exc)

    def run(self, node: str, stop: threading.Event) -> NodeRequest | None:
        found = self.tree.request(node)
        if found is None or not found.record.open:
            return None if found is None else found.record
        req = found.record
        if req.state is RequestState.PENDING:
            req = self._start(req, found.version)
            if not req.open:
                return req
        elif req.owner != self.owner:  # the previous primary's: take it over, then resume it
            previous = req.owner
            req = self._update(node, lambda r: dataclasses.replace(r, owner=self.owner)) or req
            self.fire(req, "resume", owner=self.owner, previous=previous,
                      done=sum(s.state is StepState.DONE for s in req.steps))
        todo = [s for s in req.steps if s.state in (StepState.PLANNED, StepState.MIGRATING)]
        with ThreadPoolExecutor(max_workers=max(1, req.parallel), thread_name_prefix=f"{req.kind.value}-{node}") as pool:
            for result in pool.map(lambda s: self._step(req, s, stop), todo):
                del result
        if stop.is_set():
            return self._current(node)
        return self._finish(node)

    # -- phases -----------------------------------------------------------------------------
    def _start(self, req: NodeRequest, version: int) -> NodeRequest:
        plan, _ = plan_for(self.ctx.store, req.node, req.kind)
        now = time.time()
        if req.kind is RequestKind.FLUSH and not plan.ok:
            failed = dataclasses.replace(req, state=RequestState.FAILED, owner=self.owner, started=now,
                                         finished=now, error="; ".join(f"{u.vm}: {u.reason}" for u in plan.unplaced))
            with self.ctx.store.batch() as b:
                self.tree.put_request(b, failed, version)
            self.fire(failed, "failed", error=failed.error)
            return failed
        steps = [Step(m.vm, m.source or "", m.target) for m in plan.moves]
        steps += [Step(u.vm, "", req.node, StepState.FAILED, error=u.reason) for u in plan.unplaced]
        running = dataclasses.replace(req, state=RequestState.RUNNING, owner=self.owner, started=now,
                                      steps=tuple(steps))
        node = self.ctx.store.node(req.node)
        with self.ctx.store.batch() as b:
            self.tree.put_request(b, running, version)
            b.put_node(dataclasses.replace(node.record, domain_state=_DOMAIN[req.kind][0]), node.version)
        self.fire(running, "start", owner=self.owner, plan=plan.to_dict())
        return running

    def _finish(self, node: str) -> NodeRequest | None:
        def change(req: NodeRequest) -> NodeRequest:
            failed = [s for s in req.steps if s.state is not StepState.DONE]
            return dataclasses.replace(req, state=RequestState.FAILED if failed else RequestState.DONE,
                                       finished=time.time(),
                                       error="; ".join(f"{s.vm}: {s.error or s.state.value}" for s in failed))

        def node_done(req: NodeRequest, b: Batch) -> None:
            if req.kind is RequestKind.FLUSH and req.state is RequestState.FAILED:
                return  # stays ``flushing``: the operator sees it, `pvc node ready` undoes it
            current = self.ctx.store.node(node)
            b.put_node(dataclasses.replace(current.record, domain_state=_DOMAIN[req.kind][1]), current.version)

        final = self._update(node, change, node_done)
        if final is not None:
            took = (final.finished or 0) - (final.started or 0)
            self.fire(final, "done" if final.state is RequestState.DONE else "failed", error=final.error,
                      seconds=round(took, 3), moved=sum(s.state is StepState.DONE for s in final.steps))
        return final

    def _step(self, req: NodeRequest, step: Step, stop: threading.Event) -> None:
        if stop.is_set():
            return
        try:
            vm = self.ctx.store.vm(step.vm).record
            if step.state is StepState.MIGRATING or vm.node != step.source:
                where = settle(self.ctx, step.vm, step.source, step.target)
                if where == step.target:
                    self._done(req, step, {"method": "resumed"})
                    return
                if where is None:
                    raise NodeJobFailed(step.source, "virt.list", f"{step.vm} is on neither {step.source} nor {step.target}")
            attempts = step.attempts + 1
            self._set_step(req.node, step.vm, state=StepState.MIGRATING, attempts=attempts)
            self.fire(req, "migrating", vm=step.vm, source=step.source, target=step.target)
            try:
                out = migrate(self.ctx, dataclasses.replace(vm, node=step.source), step.target)
            except NodeJobFailed:
                if settle(self.ctx, step.vm, step.source, step.target) != step.target:
                    raise
                out = {"method": "located after an error"}
            self._done(req, step, out)
        except Exception as exc:  # noqa: BLE001 - one VM's failure is recorded, the others go on
            self.ctx.log.warning("%s %s: %s failed: %s", req.kind.value, req.node, step.vm, exc)
            self._set_step(req.node, step.vm, state=StepState.FAILED, error=str(exc))
            self.fire(req, "vm", vm=step.vm, ok=False, error=str(exc))

    def _done(self, req: NodeRequest, step: Step, out: dict[str, Any]) -> None:
        store = self.ctx.store

        def vm_moved(_: NodeRequest, b: Batch) -> None:
            current = store.vm(step.vm)
            v = current.record
            last = (v.last_node or step.source) if req.kind is RequestKind.FLUSH else None
            if v.node != step.target or v.last_node != last:
                b.put_vm(moved(v, step.target, last), current.version)

        self._update(req.node, lambda r: _with_step(r, step.vm, state=StepState.DONE,
                                                    method=str(out.get("method") or ""),
                                                    duration=float(out.get("duration") or 0.0),
                                                    downtime_ms=_int(out.get("downtime_ms")), error=""),
                     vm_moved)
        self.fire(req, "vm", vm=step.vm, ok=True, source=step.source, target=step.target,
                  method=out.get("method"), duration=out.get("duration"), downtime_ms=out.get("downtime_ms"))

    # -- writes -----------------------------------------------------------------------------
    def _set_step(self, node: str, vm: str, **fields: Any) -> None:
        self._update(node, lambda r: _with_step(r, vm, **fields))

    def _current(self, node: str) -> NodeRequest | None:
        found = self.tree.request(node)
        return None if found is None else found.record

    def _update(self, node: str, change: Callable[[NodeRequest], NodeRequest],
                extra: Callable[[NodeRequest, Batch], None] | None = None) -> NodeRequest | None:
        """Compare-and-set the request (and ``extra`` operations) in one transaction."""
        with self._write:
            return compare_and_set(self.ctx.store, lambda: self.tree.request(node), self.tree.put_request, change, extra)


def _with_step(req: NodeRequest, vm: str, **fields: Any) -> NodeRequest:
    return dataclasses.replace(req, steps=tuple(dataclasses.replace(s, **fields) if s.vm == vm else s
                                                for s in req.steps))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def domain_states(kind: RequestKind) -> tuple[DomainState, DomainState]:
    return _DOMAIN[kind]


__all__ = ["NodeRecord", "RequestRunner", "domain_states", "plan_for"]
