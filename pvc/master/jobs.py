"""Jobs in flight: who was expected, who returned, who is waiting for the answers.

The master accepts a return only for an active job that targeted the sender, and only once.
A job stays active until its deadline plus a grace period for late returns; at the deadline
the minions still missing are recorded as "timed out" (or "not connected" if they were not
connected at publish time) and waiting clients get a ``done`` message.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pvc.results import NOT_CONNECTED, STILL_RUNNING, TIMED_OUT

LATE_GRACE = 60.0


@dataclass
class ActiveJob:
    """One job in flight. ``returned`` and ``lost`` change only through :meth:`settle` and
    :meth:`unsettle`, which keep ``waiting`` (the size of :meth:`outstanding`) so that "has
    everyone answered?" costs O(1) per return, not O(minions): at 10,000 minions, asking it
    after every batch of returns made a job O(minions^2)."""

    jid: str
    expected: frozenset[str]
    not_connected: frozenset[str]
    deadline: float
    returned: set[str] = field(default_factory=set)
    lost: dict[str, str] = field(default_factory=dict)  # minion -> why it will never return
    finished: bool = False
    waiting: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.waiting = len(self.outstanding())

    def outstanding(self) -> set[str]:
        return set(self.expected - self.not_connected) - self.returned - self.lost.keys()

    @property
    def complete(self) -> bool:
        """Every expected, connected minion returned or will never return."""
        return self.waiting == 0

    def _counted(self, mid: str) -> bool:
        return mid in self.expected and mid not in self.not_connected

    def settle(self, mid: str, lost: str | None = None) -> bool:
        """``mid`` returned (``lost=None``) or will never return (why). False if it already had."""
        if mid in self.returned or (lost is not None and mid in self.lost):
            return False
        if mid not in self.lost and self._counted(mid):
            self.waiting -= 1
        if lost is None:
            self.returned.add(mid)
        else:
            self.lost[mid] = lost
        return True

    def unsettle(self, mid: str, lost: bool = False) -> None:
        """Forget ``mid``'s return (with ``lost``: its loss): it was not stored, and the minion
        sends it again."""
        if lost:
            was = self.lost.pop(mid, None) is not None
        else:
            was = mid in self.returned
            self.returned.discard(mid)
        if was and mid not in self.returned and mid not in self.lost and self._counted(mid):
            self.waiting += 1

    def missing(self, running: Callable[[str, str], bool] = lambda mid, jid: False) -> dict[str, str]:
        """Who did not return and why; ``running(mid, jid)`` tells a minion still on the job
        (alive, and it says so) from one that timed out."""
        out = {m: NOT_CONNECTED for m in self.not_connected if m not in self.returned}
        out.update({m: STILL_RUNNING if running(m, self.jid) else TIMED_OUT for m in self.outstanding()})
        out.update({m: why for m, why in self.lost.items() if m not in self.returned})
        return out


class JidFactory:
    """Salt-shaped jids (``YYYYmmddHHMMSSffffff``), strictly increasing within one master."""

    def __init__(self) -> None:
        self._last = 0

    def new(self) -> str:
        now = max(int(time.time() * 1_000_000), self._last + 1)
        self._last = now
        secs, usec = divmod(now, 1_000_000)
        return time.strftime("%Y%m%d%H%M%S", time.gmtime(secs)) + f"{usec:06d}"


class ActiveJobs:
    def __init__(self) -> None:
        self.jobs: dict[str, ActiveJob] = {}
        self._deadlines: list[tuple[float, int, str]] = []
        self._seq = itertools.count()

    def add(self, job: ActiveJob) -> None:
        self.jobs[job.jid] = job
        heapq.heappush(self._deadlines, (job.deadline, next(self._seq), job.jid))

    def get(self, jid: str) -> ActiveJob | None:
        return self.jobs.get(jid)

    def next_deadline(self) -> float | None:
        return self._deadlines[0][0] if self._deadlines else None

    def due(self, now: float) -> list[ActiveJob]:
        """Jobs whose deadline passed: first they finish (missing minions recorded), and after
        the grace period for late returns they are forgotten."""
        out = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, jid = heapq.heappop(self._deadlines)
            job = self.jobs.get(jid)
            if job is None:
                continue
            if job.finished:
                del self.jobs[jid]
                continue
            out.append(job)
            heapq.heappush(self._deadlines, (now + LATE_GRACE, next(self._seq), jid))
        return out
