"""Replay protection for publications: a timestamp window plus a cache of seen job ids.

A jid is remembered for twice the window, so a replay is caught either by the cache (recent)
or by the window (old). Memory is bounded by the publication rate times the window.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from pvc.errors import ReplayError


class ReplayGuard:
    def __init__(self, window: float, max_entries: int = 200_000) -> None:
        self.window = window
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()

    def check(self, jid: str, ts: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if abs(now - ts) > self.window:
            raise ReplayError(f"publication {jid} is outside the {self.window:g}s time window")
        self._expire(now)
        if jid in self._seen:
            raise ReplayError(f"publication {jid} was already seen (replay)")
        self._seen[jid] = now + 2 * self.window

    def _expire(self, now: float) -> None:
        seen = self._seen
        while seen:
            jid, expiry = next(iter(seen.items()))
            if expiry > now and len(seen) < self.max_entries:
                break
            seen.popitem(last=False)
