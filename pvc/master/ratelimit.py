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
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False


class PeerLimiter:
    """One bucket per peer (ZMQ routing identity), with a bounded number of peers remembered."""

    def __init__(self, rate: float, burst: float, max_peers: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_peers = max_peers
        self._buckets: OrderedDict[bytes, TokenBucket] = OrderedDict()

    def allow(self, peer: bytes, now: float) -> bool:
        bucket = self._buckets.get(peer)
        if bucket is None:
            bucket = self._buckets[peer] = TokenBucket(self.rate, self.burst, now)
            if len(self._buckets) > self.max_peers:
                self._buckets.popitem(last=False)
        return bucket.take(1.0, now)
