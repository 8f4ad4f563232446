"""``node.*`` runners: flush a node (every VM live-migrated away), ready it (its VMs back).

The moves themselves run in the coordinator on the primary master (:mod:`pvc.runners.flush`),
so a flush survives the caller and the primary: these runners plan (and stop there with
test=True), write the request to ZooKeeper and, with ``wait``, follow it to its end, reporting
each step to the context's progress observer.

Example::

    pvc runner node.flush hv2 wait=true parallel=4
    pvc runner node.ready hv2 wait=true
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from pvc.cluster.errors import TransactionConflict
from pvc.runners.context import RunnerContext
from pvc.runners.errors import PlacementError, RunnerArgumentError, StateError
from pvc.runners.flush import plan_for
from pvc.runners.registry import RunnerSpec
from pvc.runners.tree import NodeRequest, RequestKind, StepState, new_request_id
from pvc.runners.unfence import unfence

WAIT_TIMEOUT = 600.0


def flush(ctx: RunnerContext, node: str, parallel: int = 2, wait: bool = False,
          timeout: float = WAIT_TIMEOUT) -> dict[str, Any]:
    """Take ``node`` out of service: plan a target for each of its VMs (selector, node limit, no
    overcommit), then live-migrate them, ``parallel`` at a time. A VM that fits nowhere fails the
    plan and nothing moves. With test=True only the plan is returned.

    Example: ``pvc runner node.flush hv2 wait=true``
    """
    return _request(ctx, node, RequestKind.FLUSH, parallel, wait, timeout)


def ready(ctx: RunnerContext, node: str, parallel: int = 2, wait: bool = False,
          timeout: float = WAIT_TIMEOUT) -> dict[str, Any]:
    """Return ``node`` to service and bring back the VMs whose last node it is.

    A node the fencer marked (fenced, fence-failed) returns only this way, once it is powered on
    and its minion is back (:func:`pvc.runners.unfence.unfence`).

    Example: ``pvc runner node.ready hv2 wait=true``
    """
    unfence(ctx, node)
    return _request(ctx, node, RequestKind.READY, parallel, wait, timeout)


def request(ctx: RunnerContext, node: str) -> dict[str, Any] | None:
    """The last flush/ready request of ``node`` with its steps. Example: ``pvc runner node.request hv2``"""
    found = ctx.tree.request(node)
    return None if found is None else _view(found.record)


def _request(ctx: RunnerContext, node: str, kind: RequestKind, parallel: int, wait: bool,
             timeout: float) -> dict[str, Any]:
    if not isinstance(parallel, int) or not 1 <= parallel <= 64:
        raise RunnerArgumentError(f"parallel must be a number from 1 to 64, got {parallel!r}")
    ctx.store.node(node)  # RecordNotFound names an unknown node
    plan, _ = plan_for(ctx.store, node, kind)
    ctx.report("plan", {"node": node, "kind": kind.value, **plan.to_dict()})
    if ctx.test:
        return {"node": node, "kind": kind.value, "test": True, "plan": plan.to_dict()}
    if kind is RequestKind.FLUSH and not plan.ok:
        raise PlacementError(f"flush {node} refused, nothing moved: " +
                             "; ".join(f"{u.vm}: {u.reason}" for u in plan.unplaced))
    req = _submit(ctx, NodeRequest(new_request_id(node, kind), node, kind, parallel, created=time.time()))
    ctx.report("submitted", {"node": node, "kind": kind.value, "request": req.id})
    if not wait:
        return {"node": node, "kind": kind.value, "request": req.id, "state": req.state.value,
                "plan": plan.to_dict()}
    final = wait_for(ctx, node, req.id, timeout)
    return _view(final)


def _submit(ctx: RunnerContext, req: NodeRequest) -> NodeRequest:
    """Write the request unless one is still open for the node (same kind: follow that one)."""
    tree = ctx.tree
    tree.ensure()
    found = tree.request(req.node)
    if found is not None and found.record.open:
        if found.record.kind is req.kind:
            return found.record
        raise StateError(f"a {found.record.kind.value} of {req.node} is still {found.record.state.value} "
                         f"(request {found.record.id}); wait for it first")
    try:
        with ctx.store.batch() as b:
            tree.put_request(b, req, None if found is None else found.version)
    except TransactionConflict:
        raise StateError(f"another request for {req.node} was written meanwhile; try again") from None
    return req


def wait_for(ctx: RunnerContext, node: str, request_id: str, timeout: float) -> NodeRequest:
    """Follow the request (a ZooKeeper watch wakes us) until it is done or failed; report every
    step that changed. Raises TimeoutError naming the state it was left in."""
    changed = threading.Event()
    path = ctx.tree.request_path(node)
    def watch(*_: object) -> None:  # on kazoo's thread: set a flag, nothing else
        changed.set()

    ctx.store.client.zk.DataWatch(path, watch)
    seen: dict[str, tuple[str, int]] = {}
    deadline = time.monotonic() + timeout
    state = ""
    while True:
        found = ctx.tree.request(node)
        if found is None or found.record.id != request_id:
            raise StateError(f"request {request_id} of {node} was replaced or removed")
        req = found.record
        for step in req.steps:
            key = (step.state.value, step.attempts)
            if seen.get(step.vm) != key:
                seen[step.vm] = key
                ctx.report("step", {"node": node, **_step_view(step)})
        if req.state.value != state:
            state = req.state.value
            ctx.report("state", {"node": node, "state": state, "owner": req.owner})
        if not req.open:
            return req
        left = deadline - time.monotonic()
        if left <= 0:
            raise StateError(f"request {request_id} of {node} still {req.state.value} after {timeout:g} s"
                             + ("" if req.owner else " (no coordinator took it: is a primary master running "
                                                     "with cluster: configured?)"))
        changed.wait(min(left, 5.0))  # the watch wakes us; the bound re-reads a missed change
        changed.clear()


def _step_view(step: Any) -> dict[str, Any]:
    return {k: (v.value if isinstance(v, StepState) else v) for k, v in dataclasses.asdict(step).items()}


def _view(req: NodeRequest) -> dict[str, Any]:
    took = None if req.finished is None or req.started is None else round(req.finished - req.started, 3)
    return {"request": req.id, "node": req.node, "kind": req.kind.value, "state": req.state.value,
            "owner": req.owner, "parallel": req.parallel, "seconds": took, "error": req.error,
            "steps": [_step_view(s) for s in req.steps]}


SPEC = RunnerSpec("node", (flush, ready, request))
