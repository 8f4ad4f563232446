"""The fence monitor: the coordinator service (primary only) that finds dead nodes and fences them.

One fencer in the cluster: the service holds the ZooKeeper lock ``/locks/fence`` for as long as
it runs (a primary that lost its seat stops, and its lock goes with its session). Each pass it
reads the nodes, the live sessions and the open fences, then

* continues every open fence (``dead``: power it off; ``fence-failed``: again once its backoff
  is over; ``fenced``: start its VMs elsewhere) — a new primary so finishes what the previous one
  left half done, each step once;
* declares the nodes :func:`~pvc.runners.deadnodes.find_dead` names (never one cleanly stopped,
  never in maintenance; while maintenance is on, no power-off starts either), counting keepalives
  only from when this monitor started or last regained its own ZooKeeper link.

Fences run in a bounded pool (``parallel`` nodes at a time), one task per node at a time. The
pass sleeps until the next moment something can change — a session ending (a ZooKeeper watch
wakes it), a node crossing the grace, a backoff ending — and at most :data:`MAX_SLEEP`.

Example::

    monitor = FenceMonitor(ctx, master_cfg.cluster.fence, owner="m1")
    threading.Thread(target=monitor.run, args=(stop,)).start()
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from pvc.cluster.records import FailedFencePolicy
from pvc.config import FenceSection
from pvc.runners.context import RunnerContext
from pvc.runners.deadnodes import find_dead
from pvc.runners.fence import Fencer
from pvc.runners.fencetree import FenceState, FenceTree
from pvc.runners.recovery import Recovery

MAX_SLEEP = 1.0
LOCK = "fence"


class FenceMonitor:
    name = "fence-monitor"

    def __init__(self, ctx: RunnerContext, cfg: FenceSection, owner: str) -> None:
        self.ctx, self.cfg, self.owner = ctx, cfg, owner
        self.fences = FenceTree(ctx.store)
        self.busy: dict[str, Future[None]] = {}
        self.passes = 0
        self.watching_since = 0.0  # see deadnodes: keepalives count from when we watch without a gap
        self._link = ctx.store.client.flag.subscribe()

    def run(self, stop: threading.Event) -> None:
        from kazoo.exceptions import LockTimeout

        store = self.ctx.store
        self.fences.ensure()
        lock = store.client.zk.Lock(store.schema.path("lock", lock=LOCK), self.owner)
        while not stop.is_set():
            try:
                if lock.acquire(timeout=MAX_SLEEP):
                    break
            except LockTimeout:
                continue
        if stop.is_set():
            return
        try:
            self._watch(stop)
        finally:
            lock.release()

    def _watch(self, stop: threading.Event) -> None:
        zk = self.ctx.store.client.zk
        wake = threading.Event()

        def on_change(*_: object) -> bool | None:  # kazoo's thread: flag only
            wake.set()
            return False if stop.is_set() else None

        zk.ChildrenWatch(self.ctx.store.schema.path("alive"), on_change)
        fencer = Fencer(self.ctx, self.cfg, cancel=stop)
        recovery = Recovery(self.ctx, self.cfg.recovery_parallel, cancel=stop)
        self.watching_since = time.time()
        with ThreadPoolExecutor(max_workers=max(1, self.cfg.parallel), thread_name_prefix="fence") as pool:
            while not stop.is_set():
                if self._link.is_set():  # our own ZooKeeper link changed: count keepalives afresh
                    self._link.clear()
                    self.watching_since = time.time()
                due = self.scan(fencer, recovery, pool)
                self.passes += 1
                wake.wait(max(0.05, min(MAX_SLEEP, due - time.time())))
                wake.clear()

    def scan(self, fencer: Fencer, recovery: Recovery, pool: ThreadPoolExecutor) -> float:
        """One pass; returns when the next pass is due (Unix time)."""
        store, now = self.ctx.store, time.time()
        config = store.config().record
        due = now + MAX_SLEEP
        for name, found in self.fences.all().items():
            rec = found.record
            if not rec.open or self._running(name):
                continue
            if rec.state in (FenceState.DEAD, FenceState.FENCE_FAILED) and config.maintenance:
                continue
            waiting = rec.state is FenceState.FENCE_FAILED and now < rec.next_attempt
            migrate = config.failed_fence is FailedFencePolicy.MIGRATE and rec.steps
            if waiting and not migrate:
                due = min(due, rec.next_attempt)
                continue
            self._submit(pool, name, fencer, recovery, power=not waiting)
        verdict = find_dead((n.record for n in store.nodes()), store.alive(), config, now, self.watching_since)
        for dead in verdict.dead:
            if not self._running(dead.node) and fencer.declare(dead) is not None:
                self._submit(pool, dead.node, fencer, recovery, power=True)
        if verdict.recheck_at is not None:
            due = min(due, verdict.recheck_at + 0.01)
        return due

    def _running(self, node: str) -> bool:
        task = self.busy.get(node)
        return task is not None and not task.done()

    def _submit(self, pool: ThreadPoolExecutor, node: str, fencer: Fencer, recovery: Recovery, power: bool) -> None:
        def task() -> None:
            try:
                if power:
                    fencer.fence(node)
                found = self.fences.get(node)
                if found is not None and (found.record.state is FenceState.FENCED or found.record.steps):
                    recovery.run(node)  # a fenced node without VMs is closed there too
            except Exception as exc:  # noqa: BLE001 - retried on the next pass while the fence is open
                self.ctx.log.warning("fence of %s: %s (retrying)", node, exc)

        self.busy[node] = pool.submit(task)
