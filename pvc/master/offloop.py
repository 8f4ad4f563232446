"""Minions' requests answered by a worker thread, so the master's loop never waits on a disk.

The loop thread hands a request over with :meth:`OffLoop.submit` and, on a later turn, sends
the answers the worker left (:meth:`OffLoop.drain`; :attr:`OffLoop.fd`, an eventfd, wakes the
loop's poller when one is ready). The work is bounded: at most ``queue_max`` requests wait, at
most ``per_minion`` of them from one minion; past either, the request is answered at once with
the ``refuse`` answer ("busy: try again") and nobody else waits. A bug in ``answer`` costs one
answer (an internal error the minion sees), never the worker.

Used by the file server (:mod:`pvc.master.fileserver`) and the mine (:mod:`pvc.master.mine`),
each with its own worker, so a slow pillar render never delays a mine lookup.

Example::

    worker = OffLoop("pvc-mine", answer, error, send, BUSY, queue_max=1024, per_minion=32, stats=stats)
    poller.register(worker.fd, zmq.POLLIN)
    worker.submit("hv1", MineGet(1, "*", funs=["grains.items"]))   # loop thread
    worker.drain()                                                 # loop thread: sends the answer
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from pvc.wire.record import Record

log = logging.getLogger(__name__)

Answer = Callable[[str, Record, Any], Record]  # (minion id, request, what the loop passed along)
Refusal = Callable[[Record, str], Record]      # (request, message) -> the error answer
INTERNAL_ERROR = "internal error on the master (see its log)"


class OffLoop:
    def __init__(self, name: str, answer: Answer, refuse: Refusal, send: Callable[[str, Record], None],
                 busy: str, queue_max: int, per_minion: int, stats: Counter[str]) -> None:
        self.name = name
        self.answer = answer
        self.refuse = refuse
        self.send = send
        self.busy = busy
        self.per_minion = per_minion
        self.stats = stats  # counts "busy" refusals, beside the owner's own counts
        self.fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._todo: queue.Queue[tuple[str, Record, Any] | Callable[[], None] | None] = queue.Queue(queue_max)
        self._done: queue.Queue[tuple[str, Record]] = queue.Queue()
        self._pending: Counter[str] = Counter()  # loop thread only
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    # -- loop thread ------------------------------------------------------------------------
    def submit(self, mid: str, req: Record, extra: Any = None) -> None:
        """Queue ``req`` from ``mid`` (``extra`` goes to ``answer`` with it), or answer "busy"."""
        if self._pending[mid] >= self.per_minion:
            self.refuse_busy(mid, req)
            return
        try:
            self._todo.put_nowait((mid, req, extra))
        except queue.Full:
            self.refuse_busy(mid, req)
            return
        self._pending[mid] += 1

    def run_soon(self, task: Callable[[], None]) -> bool:
        """Run ``task`` on the worker, after the requests already queued (False: queue full)."""
        try:
            self._todo.put_nowait(task)
        except queue.Full:
            return False
        return True

    def refuse_busy(self, mid: str, req: Record) -> None:
        """Answer "busy" at once (the minion asks again a little later)."""
        self.stats["busy"] += 1
        self.send(mid, self.refuse(req, self.busy))

    def drain(self) -> None:
        """Send every finished answer (called each loop turn and when :attr:`fd` is readable)."""
        try:
            os.eventfd_read(self.fd)
        except BlockingIOError:
            pass
        while True:
            try:
                mid, answer = self._done.get_nowait()
            except queue.Empty:
                return
            self._pending[mid] -= 1
            if self._pending[mid] <= 0:
                del self._pending[mid]
            self.send(mid, answer)

    def close(self) -> None:
        try:
            self._todo.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(2.0)
        os.close(self.fd)

    # -- worker thread ----------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._todo.get()
            if item is None:
                return
            if callable(item):
                try:
                    item()
                except Exception:  # housekeeping must not kill the worker either
                    log.exception("%s: internal error in a background task", self.name)
                continue
            mid, req, extra = item
            try:
                answer = self.answer(mid, req, extra)
            except Exception:  # a bug must not kill the worker; the minion gets an error
                log.exception("%s: internal error answering %s for %s", self.name, req.KIND, mid)
                answer = self.refuse(req, INTERNAL_ERROR)
            self._done.put((mid, answer))
            os.eventfd_write(self.fd, 1)
