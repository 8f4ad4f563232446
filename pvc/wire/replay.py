"""Replay protection for jobs: a floor, a time window and a cache of seen job ids.

Times are the master's: the minion learns the master's clock at auth and judges every job
against ``local time + offset``, so unsynchronised clocks neither block jobs nor widen the
window. The *floor* is the master's time when this minion's current session began: nothing
published earlier can be meant for this session (it did not exist yet), so a
job captured before a minion restart cannot be run again after it, with no state on disk.
A jid is remembered for twice the window, so a replay is caught either by the cache (recent)
or by the window (old). Memory is bounded by ``max_entries``.

Example::

    guard = ReplayGuard(window=120)
    guard.floor = grant_time
    guard.check("2026...", job.ts, now=time.time() + offset)
"""

from __future__ import annotations

import time
from collections import OrderedDict

from pvc.errors import ReplayError


class ReplayGuard:
    def __init__(self, window: float, max_entries: int = 200_000) -> None:
        self.window = window
        self.max_entries = max_entries
        self.floor = 0.0
        self._seen: OrderedDict[str, float] = OrderedDict()

    def check(self, jid: str, ts: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if ts < self.floor:
            raise ReplayError(f"job {jid} was published before this session began")
        if abs(now - ts) > self.window:
            raise ReplayError(f"job {jid} is outside the {self.window:g}s time window "
                              f"(it is {now - ts:+.0f}s old by the master's clock)")
        self._expire(now)
        if jid in self._seen:
            raise ReplayError(f"job {jid} was already seen (replay)")
        self._seen[jid] = now + 2 * self.window

    def _expire(self, now: float) -> None:
        seen = self._seen
        while seen:
            expiry = next(iter(seen.values()))
            if expiry > now and len(seen) < self.max_entries:
                break
            seen.popitem(last=False)
