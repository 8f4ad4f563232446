"""Which of a minion process's identities look at their timers on a loop turn.

In a swarm, an identity that is not authenticated ticks on the turns its next enrolment step (or
retry) is due, and every turn when it has sibling cores for other masters to hand returns to. An
authenticated one has slow timers (its beat, resends after a beat or 3 s, silence after 60 s or
more), so it ticks twice a beat and at least every 5 s (every 5 s at 10,000 minions, whose beat
is 40 s). Finding those by walking every identity each turn cost a swarm process ~2.5 ms per turn
at 2,500 identities, a fourteenth of its time during a ping to all; here the authenticated ones
wait in a heap by when they are due and the others in a set, and a turn costs the identities it
ticks. (Ticked once a second, 2,500 identities still took 6% of a swarm process's time during a
ping; ticked every turn while waiting for an enrolment slot, 2,500 identities after a master
restart spent ten ticks a second each for nothing.)

A node (fewer than :data:`SPREAD_FROM` identities) ticks every identity every turn: a beat that
comes late can make the master think a running job timed out.

Example::

    plan = TickPlan(cores, tick=0.1)   # each core calls plan.state_changed(core) on a change
    for core in plan.due(time.monotonic()):
        core.tick(now)
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

SPREAD_FROM = 64  # identities in one process
AUTHED_TICK_MAX = 5.0  # seconds between two ticks of an authenticated identity, at most


class Ticking(Protocol):
    state: str
    hb_every: float
    next_action: float  # when a core that is not authenticated takes its next enrolment step
    siblings: list[Any]  # its cores for other masters (a core that is not authenticated hands them returns)


T = TypeVar("T", bound=Ticking)


class TickPlan(Generic[T]):
    def __init__(self, cores: Sequence[T], tick: float) -> None:
        self._tick = tick
        self._all = list(cores)
        self._spread = len(self._all) >= SPREAD_FROM
        self._eager: dict[T, None] = {}  # not authenticated, in order
        self._heap: list[tuple[float, int, T]] = []
        self._entry: dict[T, int] = {}  # an authenticated core's one live heap entry
        self._seq = itertools.count()  # ties in the heap never compare cores
        for core in self._all:
            if core.state == "authed":
                self._schedule(core, 0.0)
            else:
                self._eager[core] = None

    def state_changed(self, core: T, now: float) -> None:
        """``core`` entered or left "authed": to the heap (first tick one interval from now) or
        back to every turn (its heap entry is dropped when it comes up)."""
        if not self._spread:
            return
        if core.state == "authed":
            if core in self._eager:
                del self._eager[core]
                self._schedule(core, now)
        else:
            self._eager[core] = None
            self._entry.pop(core, None)

    def due(self, now: float) -> list[T]:
        """The identities to tick this turn: every one on a node; in a swarm, those not
        authenticated and the authenticated ones whose interval is up (rescheduled)."""
        if not self._spread:
            return self._all
        # what a tick does for a core that is not authenticated: its next enrolment step when
        # due, returns handed to its siblings if it has any; a herd of 2,500 waiting for their
        # turn to enrol (after a master restart) was ticked for nothing ten times a second
        due = [core for core in self._eager if core.next_action <= now or core.siblings]
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, seq, core = heapq.heappop(heap)
            if self._entry.get(core) != seq:  # it left "authed" since (and maybe came back)
                continue
            due.append(core)
            self._schedule(core, now)
        return due

    def _schedule(self, core: T, now: float) -> None:
        seq = next(self._seq)
        self._entry[core] = seq
        heapq.heappush(self._heap, (now + max(self._tick, min(core.hb_every / 2, AUTHED_TICK_MAX)), seq, core))
