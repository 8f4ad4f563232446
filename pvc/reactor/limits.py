"""The reactor's bounded memory: a rate limit per rule, the depth of the jobs it published, and
the events already handled. Each holds at most a fixed number of entries, whatever the bus sends.

Example::

    limit = RateLimit(per_minute=6)
    [limit.take() for _ in range(7)]          # six True, then False until a token comes back
    lineage = Lineage(); lineage.record("20260101...", 1)
    lineage.depth("pvc/job/20260101.../ret/hv1")   # 1
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

MAX_JOBS = 10_000     # jids remembered with their depth
MAX_SEEN = 4_096      # events remembered as handled


class RateLimit:
    """A token bucket: ``per_minute`` tokens, refilled evenly over a minute. ``quiet`` is True
    after a refusal was reported, until the next token is taken (one report per burst)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self.tokens = self.capacity
        self.stamp = clock()
        self.quiet = False

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.quiet = False
            return True
        return False


class Lineage:
    """How many reactor steps led to each job the reactor published: the events of job ``jid``
    (``pvc/job/<jid>/...``) are that deep; every other event is depth 0."""

    def __init__(self, capacity: int = MAX_JOBS) -> None:
        self.capacity = capacity
        self._jobs: OrderedDict[str, int] = OrderedDict()

    def record(self, jid: str, depth: int) -> None:
        self._jobs[jid] = depth
        self._jobs.move_to_end(jid)
        while len(self._jobs) > self.capacity:
            self._jobs.popitem(last=False)

    def depth(self, tag: str) -> int:
        parts = tag.split("/", 3)
        if len(parts) >= 3 and parts[0] == "pvc" and parts[1] == "job":
            return self._jobs.get(parts[2], 0)
        return 0


class Recent:
    """The last ``capacity`` keys seen: ``add`` is False for a key already there."""

    def __init__(self, capacity: int = MAX_SEEN) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def add(self, key: Hashable) -> bool:
        if key in self._keys:
            return False
        self._keys[key] = None
        while len(self._keys) > self.capacity:
            self._keys.popitem(last=False)
        return True
