"""Requests from a job's thread to the master (files, pillar, the mine), answered over the sealed channel.

A job (``state.apply`` on a worker thread) calls :meth:`MasterRequests.request`; the request is
sealed and sent by the loop thread (sockets are not thread-safe), and the job's thread waits
for the answer with the same ``rid``, which the loop hands over in :meth:`deliver`. Bounded:
at most ``MAX_WAITING`` requests wait at once, each at most ``timeout`` seconds; an answer
nobody waits for is dropped.

Example::

    link = MasterRequests(core._send_up, runner.call_soon, "/var/cache/pvc/minion/files")
    data = link.request(FileReq(link.next_rid(), "top.sls"))     # worker thread
    link.deliver(data)                                           # loop thread, on FileData
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from pvc.errors import PvcError
from pvc.wire.files import FileAnswer, FileRequest
from pvc.wire.mine import MineData, MineRequest
from pvc.wire.record import Record

MAX_WAITING = 256
TIMEOUT = 30.0


class MasterUnreachable(PvcError, TimeoutError):
    """The master did not answer a request (files, pillar, mine) in time (or is not connected)."""


class _Waiter:
    __slots__ = ("answer", "event")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.answer: FileAnswer | MineData | None = None


class MasterRequests:
    def __init__(self, send: Callable[[Record], None], call_soon: Callable[[Callable[[], None]], None],
                 cache_dir: str, timeout: float = TIMEOUT) -> None:
        self._send = send
        self._call_soon = call_soon
        self.cache_dir = cache_dir
        self.timeout = timeout
        self._rids = itertools.count(1)
        self._lock = threading.Lock()
        self._waiting: dict[int, _Waiter] = {}

    def next_rid(self) -> int:
        with self._lock:
            return next(self._rids)

    def request(self, rec: FileRequest | MineRequest) -> FileAnswer | MineData:
        """Send ``rec`` (which carries a fresh ``rid``) and wait for its answer (any thread but
        the loop's)."""
        rid = rec.rid
        waiter = _Waiter()
        with self._lock:
            if len(self._waiting) >= MAX_WAITING:
                raise MasterUnreachable(f"{MAX_WAITING} requests to the master are already waiting")
            self._waiting[rid] = waiter
        try:
            self._call_soon(lambda: self._send(rec))
            if not waiter.event.wait(self.timeout) or waiter.answer is None:
                raise MasterUnreachable(f"the master did not answer a {rec.KIND} in {self.timeout:g} s")
            return waiter.answer
        finally:
            with self._lock:
                self._waiting.pop(rid, None)

    def deliver(self, answer: FileAnswer | MineData) -> None:
        """Loop thread: hand ``answer`` to the job waiting for its ``rid`` (else drop it)."""
        with self._lock:
            waiter = self._waiting.get(answer.rid)
        if waiter is not None:
            waiter.answer = answer
            waiter.event.set()
