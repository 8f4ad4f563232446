"""``pvc event listen`` notices a master that stopped answering."""

from __future__ import annotations

import pytest

from pvc.cli.event import _human_data, _Liveness
from pvc.errors import MasterUnreachable


def _down() -> None:
    raise MasterUnreachable("master did not answer within 2s")


def test_stops_with_an_error_when_the_master_is_gone():
    alive = _Liveness(_down, wait=False, every=0)
    with pytest.raises(MasterUnreachable, match="stopped answering.*--wait"):
        alive.check()


def test_with_wait_says_so_once_and_when_it_is_back(capsys):
    state = {"up": False}

    def probe() -> None:
        if not state["up"]:
            _down()

    alive = _Liveness(probe, wait=True, every=0)
    alive.check()
    alive.check()
    state["up"] = True
    alive.check()
    err = capsys.readouterr().err
    assert err.count("Waiting for the master") == 1 and "The master is back." in err


def test_no_probe_while_events_flow():
    alive = _Liveness(_down, wait=False, every=60)
    alive.seen()
    alive.check()  # not due yet: no error


def test_event_durations_are_rounded():
    assert _human_data({"id": "m1", "duration": 4.099000000223896e-05}) == {"id": "m1", "duration": "0.04 ms"}
