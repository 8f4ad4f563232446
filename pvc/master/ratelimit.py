"""Token buckets: the bounded-work promise (a hostile peer cannot starve the master)."""

from __future__ import annotations

import time
from collections import OrderedDict


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up.

    Example::

        bucket = TokenBucket(rate=100, burst=200)
        if not bucket.take():
            drop(message)
    """

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float, now: float | None = None) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic() if now is None else now

    def take(self, n: float = 1.0, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = self._level(now)
        self.stamp = now
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False

    def wait(self, n: float = 1.0, now: float | None = None) -> float:
        """Seconds until ``n`` tokens are there (0.0: now); takes none."""
        now = time.monotonic() if now is None else now
        return max(0.0, (n - self._level(now)) / self.rate)

    def _level(self, now: float) -> float:
        """The tokens there at ``now``: those saved, refilled since the last take, up to ``burst``."""
        return min(self.burst, self.tokens + (now - self.stamp) * self.rate)


class PeerLimiter:
    """One bucket per peer (ZMQ routing identity, address), with a bounded number of peers remembered.

    A bucket left alone long enough to fill up again is no different from a new one, so the least
    recently used of those are forgotten as new peers come: the limiter holds the peers of the last
    ``burst / rate`` seconds, not every peer it ever saw (at 10,000 minions, ~1 KiB each across
    the master's three limiters).
    """

    def __init__(self, rate: float, burst: float, max_peers: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_peers = max_peers
        self.refill = burst / rate if rate > 0 else float("inf")  # seconds from empty to full
        self._buckets: OrderedDict[bytes, TokenBucket] = OrderedDict()  # least recently used first

    def allow(self, peer: bytes, now: float) -> bool:
        buckets = self._buckets
        bucket = buckets.get(peer)
        if bucket is None:
            self._forget_refilled(now)
            bucket = buckets[peer] = TokenBucket(self.rate, self.burst, now)
            if len(buckets) > self.max_peers:
                buckets.popitem(last=False)
        else:
            buckets.move_to_end(peer)
        return bucket.take(1.0, now)

    def _forget_refilled(self, now: float) -> None:
        buckets = self._buckets
        while buckets and now - next(iter(buckets.values())).stamp >= self.refill:
            buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)
