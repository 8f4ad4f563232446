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
    jid: str
    expected: frozenset[str]
    not_connected: frozenset[str]
    deadline: float
    returned: set[str] = field(default_factory=set)
    lost: dict[str, str] = field(default_factory=dict)  # minion -> why it will never return
    finished: bool = False

    def outstanding(self) -> set[str]:
        return set(self.expected - self.not_connected) - self.returned - self.lost.keys()

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
