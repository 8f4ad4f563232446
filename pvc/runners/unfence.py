"""Return a fenced node to service: the explicit step ``pvc node ready`` takes first.

A node the fencer marked (``fenced``, ``fence-failed``, ``dead``) stays so whatever its minion
says when it comes back: its keepalive keeps the fence state. ``pvc node ready`` calls
:func:`unfence`, which refuses while the fence is still being carried out, and while the node has
no live session (power it on first); otherwise it removes what the node's libvirt still holds of
VMs that now live elsewhere (their definitions survived the power cut; a copy still running — a
node that resumed after a failed fence whose VMs were moved by ``failed_fence: migrate`` — is
destroyed first: the moved one is the VM), then writes the node ``run`` and closes its fence.
The ready request then brings back the VMs whose last node it is.

Example::

    unfence(ctx, "hv1")    # {"node": "hv1", "was": "fenced", "removed": ["vm1", "vm2"]}
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from pvc import events
from pvc.cluster.records import FENCE_STATES, DaemonState
from pvc.cluster.store import Batch
from pvc.runners.context import RunnerContext
from pvc.runners.errors import StateError
from pvc.runners.fencetree import FINAL_STEPS, FenceRecord, FenceState, FenceTree


def unfence(ctx: RunnerContext, node: str) -> dict[str, Any] | None:
    """Clear ``node``'s fence state (None if it has none); raises :class:`StateError` if it cannot."""
    store = ctx.store
    current = store.node(node)
    if current.record.daemon_state not in FENCE_STATES:
        return None
    fences = FenceTree(store)
    found = fences.get(node)
    rec = found.record if found is not None else None
    was = current.record.daemon_state.value
    if rec is not None and rec.state is FenceState.DEAD:
        raise StateError(f"{node} is being fenced right now (declared dead, power-off not confirmed yet)")
    if rec is not None and rec.state is FenceState.FENCED and not all(s.state in FINAL_STEPS for s in rec.steps):
        raise StateError(f"the recovery of {node}'s VMs is still under way; ready it once it is done")
    if node not in store.alive():
        raise StateError(f"{node} is {was} and has no live session: power it on (its minion must be back) "
                         f"before `pvc node ready {node}`")
    if ctx.test:
        return {"node": node, "was": was, "test": True}
    removed = _remove_stale(ctx, node)

    def node_run(_: FenceRecord | None, b: Batch) -> None:
        latest = store.node(node)
        b.put_node(dataclasses.replace(latest.record, daemon_state=DaemonState.RUN), latest.version)

    def close(r: FenceRecord) -> FenceRecord:
        if not r.open:
            return r
        return dataclasses.replace(r, state=FenceState.RECOVERED if r.state is FenceState.FENCED
                                   else FenceState.CANCELLED, finished=time.time())

    if rec is not None:
        fences.update(node, close, node_run)
    else:
        with store.batch() as b:
            node_run(None, b)
    ctx.fire_event(events.node(node, "unfenced"), {"node": node, "was": was, "removed": removed})
    return {"node": node, "was": was, "removed": removed}


def _remove_stale(ctx: RunnerContext, node: str) -> list[str]:
    """Undefine (destroying first if running) each managed VM libvirt holds on ``node`` whose
    record places it elsewhere."""
    elsewhere = {v.record.name for v in ctx.store.vms() if v.record.node != node}
    removed = []
    for row in ctx.jobs.call(node, "virt.list", timeout=30) or []:
        name = row.get("name") if isinstance(row, dict) else None
        if name not in elsewhere:
            continue
        if row.get("state") != "shutoff":
            ctx.log.error("%s still ran %s, which runs elsewhere now: destroying this copy", node, name)
            ctx.jobs.call(node, "virt.destroy", [name], timeout=60)
        ctx.jobs.call(node, "virt.undefine", [name], timeout=60)
        removed.append(str(name))
    return removed
