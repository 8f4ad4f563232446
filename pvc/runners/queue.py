"""The flush/ready queue: carries out every open node request while this master is primary.

ZooKeeper watches on the request znodes only set a flag (kazoo's listeners must not block); the
service thread re-reads the requests then and starts one :class:`~pvc.runners.flush.RequestRunner`
thread per node with an open request (requests of different nodes proceed side by side). RUNNING
requests found at start are the previous primary's, and are resumed.
"""

from __future__ import annotations

import threading

from pvc.runners.context import RunnerContext
from pvc.runners.flush import RequestRunner

RESCAN_S = 2.0  # besides the watches: a bound on how long a missed notification can delay a request


class RequestQueue:
    name = "request-queue"

    def __init__(self, ctx: RunnerContext, owner: str) -> None:
        self.ctx, self.owner = ctx, owner
        self.runner = RequestRunner(ctx, owner)
        self.active: dict[str, threading.Thread] = {}

    def run(self, stop: threading.Event) -> None:
        tree = self.ctx.tree
        tree.ensure()
        wake = threading.Event()
        watched: set[str] = set()
        zk = self.ctx.store.client.zk

        def on_change(*_: object) -> bool | None:  # kazoo's thread: flag only
            wake.set()
            return False if stop.is_set() else None

        zk.ChildrenWatch(tree.requests_path, on_change)
        while not stop.is_set():
            for found in tree.requests():
                node = found.record.node
                if node not in watched:
                    zk.DataWatch(tree.request_path(node), on_change)
                    watched.add(node)
                busy = self.active.get(node)
                if found.record.open and (busy is None or not busy.is_alive()):
                    thread = threading.Thread(target=self._carry_out, args=(node, stop),
                                              name=f"request-{node}", daemon=True)
                    self.active[node] = thread
                    thread.start()
            wake.wait(RESCAN_S)
            wake.clear()
        for thread in list(self.active.values()):
            thread.join(1.0)

    def _carry_out(self, node: str, stop: threading.Event) -> None:
        try:
            self.runner.run(node, stop)
        except Exception as exc:  # noqa: BLE001 - retried on the next scan while the request is open
            self.ctx.log.warning("request of %s: %s (retrying)", node, exc)
            stop.wait(1.0)
