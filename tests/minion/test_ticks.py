"""How often a minion process looks at an identity's timers (pvc.minion.ticks): in a swarm, an
authenticated identity twice a beat and at least every 5 s, one that is not every turn, and a
turn costs only the identities it ticks; a node's few identities are looked at every turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from pvc.minion.ticks import SPREAD_FROM, TickPlan

TICK = 0.125  # exact in binary: the test's clock adds up without rounding


@dataclass(eq=False)
class Core:
    state: str = "new"
    hb_every: float = 2.0
    next_action: float = 0.0
    siblings: list[Any] = field(default_factory=list)


def _turns(plan: TickPlan[Core], seconds: float, start: float = 0.0) -> list[tuple[float, list[Core]]]:
    return [(start + n * TICK, plan.due(start + n * TICK)) for n in range(round(seconds / TICK))]


def test_a_node_ticks_every_identity_every_turn() -> None:
    cores = [Core(state="authed", hb_every=40) for _ in range(SPREAD_FROM - 1)]
    plan = TickPlan(cores, TICK)
    assert all(due == cores for _, due in _turns(plan, 3))


@pytest.mark.parametrize(("beat", "seconds"), [(0.1, TICK), (0.5, 0.25), (2.0, 1.0), (8.0, 4.0), (40.0, 5.0)])
def test_an_authenticated_identity_is_looked_at_twice_a_beat_at_least_every_5s(beat: float, seconds: float) -> None:
    cores = [Core(hb_every=beat) for _ in range(SPREAD_FROM)]
    plan = TickPlan(cores, TICK)
    watched = cores[7]
    watched.state = "authed"
    plan.state_changed(watched, 0.0)
    times = [t for t, due in _turns(plan, 15.125) if watched in due]
    assert times == [seconds * k for k in range(1, int(15.0 // seconds) + 1)]
    assert all(len([c for c in due if c is not watched]) == SPREAD_FROM - 1 for _, due in _turns(plan, 1))


def test_a_swarm_turn_costs_the_identities_it_ticks() -> None:
    cores = [Core(state="authed", hb_every=40) for _ in range(2500)]
    plan = TickPlan(cores, TICK)
    ticked = [len(due) for _, due in _turns(plan, 10.0, start=10.0)]
    assert ticked[0] == 2500 and sum(ticked[1:]) == 2500 and max(ticked[1:]) == 2500  # every 5 s


def test_leaving_and_coming_back_to_authed_keeps_one_pace() -> None:
    cores = [Core(state="authed") for _ in range(SPREAD_FROM)]
    plan = TickPlan(cores, TICK)
    plan.due(0.0)
    core = cores[0]
    core.state = "new"
    plan.state_changed(core, 0.125)
    assert all(core in due for _, due in _turns(plan, 0.5, start=0.125))  # every turn while not authed
    core.state = "authed"
    plan.state_changed(core, 0.625)  # its old entry (due at 1.0) is still in the heap
    times = [t for t, due in _turns(plan, 3.0, start=0.75) if core in due]
    assert times == [1.625, 2.625, 3.625]


def test_a_waiting_identity_is_ticked_when_its_step_is_due() -> None:
    """After a master restart a swarm's identities wait for enrolment slots: none is ticked
    before its next step is due, unless it has sibling cores to hand returns to."""
    cores = [Core(next_action=10.0) for _ in range(SPREAD_FROM)]
    plan = TickPlan(cores, TICK)
    cores[3].next_action = 0.5  # a slot came free for it
    cores[5].siblings = [Core()]
    ticked = {t: due for t, due in _turns(plan, 1.0)}
    assert ticked[0.0] == [cores[5]] and ticked[0.5] == [cores[3], cores[5]]
    assert plan.due(10.0) == cores
