"""How often a swarm process looks at an authenticated identity's timers: twice a beat, at most
once a second (a swarm of thousands of identities ticked each of them ten times a second); a
node's few identities are looked at every turn."""

from __future__ import annotations

import pytest

from pvc.minion.daemon import TICK, _tick_turns


@pytest.mark.parametrize(("beat", "seconds"), [(0.1, TICK), (0.5, 0.2), (2.0, 1.0), (40.0, 1.0)])
def test_an_authenticated_identity_is_looked_at_twice_a_beat_at_most_once_a_second(beat: float,
                                                                                   seconds: float) -> None:
    assert _tick_turns(beat) * TICK == pytest.approx(seconds)
