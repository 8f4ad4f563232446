"""Runs jobs on a bounded thread pool and hands work back to the I/O loop thread.

ZMQ sockets are not thread-safe, so workers never touch them: a worker posts a callable with
:meth:`call_soon` and an eventfd wakes the loop's poller, which runs it (sending the return,
or an event a module fired).
"""

from __future__ import annotations

import os
import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pvc.results import Return


class JobRunner:
    def __init__(self, workers: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="pvc-job")
        self._inbox: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)

    def submit(self, call: Callable[[], Return], done: Callable[[Return], None]) -> None:
        """Run ``call`` on a worker; ``done(result)`` then runs on the loop thread."""
        self.pool.submit(self._run, call, done)

    def _run(self, call: Callable[[], Return], done: Callable[[Return], None]) -> None:
        try:
            ret = call()
        except BaseException as exc:  # noqa: BLE001 - the executor already catches; last line of defence
            ret = Return(ok=False, error=f"internal error: {exc}", error_type=type(exc).__name__)
        self.call_soon(lambda: done(ret))

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Thread-safe: queue ``fn`` for the loop thread and wake it."""
        self._inbox.put(fn)
        os.eventfd_write(self.fd, 1)

    def run_pending(self) -> None:
        try:
            os.eventfd_read(self.fd)
        except BlockingIOError:
            pass
        while True:
            try:
                fn = self._inbox.get_nowait()
            except queue.Empty:
                return
            fn()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        os.close(self.fd)
