"""When the last of N minions authenticated, heard on the master's event bus.

Issue 13's start-up target is "all authenticated < 30 s from start". The master fires
``pvc/minion/<id>/start`` when a minion's session goes live: its key accepted, its CURVE channel
connected, its first box read. ``bench.measure.startup`` waits for more (every identity's answer
to a test.ping, sent by a probe that asks the silent ones again every 0.2 s), so it also counts
the probe's rounds and a job's trip through a loaded box. This watch gives the issue's own figure
beside it: a thread reads the events while the start-up runs, and counts each id once.

Example::

    watch = AuthWatch(load_master(master_dir), ids, timeout=300)
    watch.start()          # the clock starts here: call it just before starting the minions
    ...                    # start them, wait until they answer
    watch.result()         # {"seconds": 24.1, "heard": 10000, "of": 10000}
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import zmq

from pvc import events
from pvc.client import listen
from pvc.config import MasterConfig

PREFIX, _, START = events.minion("\0", "start").partition("\0")  # "pvc/minion/", "/start"
POLL_MS = 100  # how often the thread looks at its stop flag when no event comes


class AuthWatch:
    def __init__(self, cfg: MasterConfig, ids: Sequence[str], timeout: float) -> None:
        self.wanted = frozenset(ids)
        self.timeout = timeout
        self.heard: dict[str, float] = {}  # id -> perf_counter() of its first session start
        self.t0 = 0.0
        self._stop = threading.Event()
        # subscribed now, on the caller's thread, so that no event of the start is missed
        self._sock = listen(cfg, PREFIX)
        self._thread = threading.Thread(target=self._read, name="bench-authwatch", daemon=True)

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self._thread.start()

    def result(self) -> dict[str, Any]:
        """Seconds from :meth:`start` until the last id was heard (None unless all were)."""
        self._stop.set()
        self._thread.join()
        last = max(self.heard.values(), default=self.t0)
        done = len(self.heard) == len(self.wanted)
        return {"seconds": last - self.t0 if done else None, "heard": len(self.heard), "of": len(self.wanted)}

    def _read(self) -> None:
        """Until every id was heard or the time is up; once told to stop, only what has already
        arrived (a thread behind a burst still counts the events that came before the stop)."""
        deadline = self.t0 + self.timeout
        try:
            while len(self.heard) < len(self.wanted) and time.perf_counter() < deadline:
                if self._sock.poll(0 if self._stop.is_set() else POLL_MS):
                    self._note(self._sock.recv_multipart(zmq.NOBLOCK)[0])
                elif self._stop.is_set():
                    return
        finally:
            self._sock.close(0)

    def _note(self, tag: bytes) -> None:
        text = tag.decode("utf-8", "replace")
        mid = text[len(PREFIX):-len(START)] if text.endswith(START) else ""
        if mid in self.wanted and mid not in self.heard:
            self.heard[mid] = time.perf_counter()
