"""confirm_off against a scripted BMC: confirmed only on an explicit off reading, bounded by the
deadline, polls an interval apart, a refused login ends it at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import pytest

from pvc.errors import InvalidArgument
from pvc.ipmi.errors import BmcAuthFailed, BmcCommandFailed, BmcError, BmcUnreachable
from pvc.ipmi.fence import FenceNotConfirmed, confirm_off
from pvc.ipmi.parse import PowerState

ON, OFF, UNKNOWN = PowerState.ON, PowerState.OFF, PowerState.UNKNOWN


class ScriptedBmc:
    """Status readings (a PowerState or an error to raise) in order; the last one repeats."""

    label = "admin@bmc.test:623"

    def __init__(self, readings: Iterable[PowerState | BmcError], off_error: BmcError | None = None) -> None:
        self.readings = list(readings)
        self.off_error = off_error
        self.offs: list[float] = []
        self.polls: list[float] = []

    def power_off(self, deadline: float | None = None) -> None:
        assert deadline is not None
        self.offs.append(time.monotonic())
        if self.off_error is not None:
            raise self.off_error

    def power_status(self, deadline: float | None = None) -> PowerState:
        assert deadline is not None
        self.polls.append(time.monotonic())
        reading = self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]
        if isinstance(reading, BmcError):
            raise reading
        return reading


def test_confirmed_on_the_first_off_reading() -> None:
    bmc = ScriptedBmc([OFF])
    r = confirm_off(bmc, deadline=5, poll=0.05)
    assert (r.confirmed, r.state, r.attempts, r.off_commands, r.error) == (True, OFF, 1, 1, None)
    assert r.elapsed < 0.5


def test_polls_an_interval_apart_until_off() -> None:
    bmc = ScriptedBmc([ON, ON, UNKNOWN, OFF])
    r = confirm_off(bmc, deadline=5, poll=0.05)
    assert r.confirmed and r.attempts == 4 and r.off_commands == 1
    gaps = [b - a for a, b in zip(bmc.polls, bmc.polls[1:], strict=False)]
    assert all(g >= 0.045 for g in gaps), gaps  # no busy loop


def test_never_confirmed_without_an_off_reading() -> None:
    bmc = ScriptedBmc([ON, UNKNOWN, ON])
    t0 = time.monotonic()
    r = confirm_off(bmc, deadline=0.3, poll=0.05)
    assert not r.confirmed and r.state is ON
    assert isinstance(r.error, FenceNotConfirmed) and "last reading: on" in str(r.error)
    assert bmc.label in str(r.error)
    assert 0.3 <= time.monotonic() - t0 < 0.5 and 3 <= r.attempts <= 8


def test_resends_the_off_order_while_it_still_reads_on() -> None:
    bmc = ScriptedBmc([ON])
    r = confirm_off(bmc, deadline=0.5, poll=0.05, resend=0.2)
    assert not r.confirmed and r.off_commands in (2, 3)


def test_a_refused_login_ends_it_at_once() -> None:
    bmc = ScriptedBmc([ON], off_error=BmcAuthFailed("BMC admin@bmc.test:623: login refused"))
    r = confirm_off(bmc, deadline=5, poll=0.05)
    assert not r.confirmed and isinstance(r.error, BmcAuthFailed) and r.attempts == 0 and r.elapsed < 0.1
    bmc = ScriptedBmc([BmcAuthFailed("refused")])
    r = confirm_off(bmc, deadline=5, poll=0.05)
    assert not r.confirmed and isinstance(r.error, BmcAuthFailed) and r.attempts == 1


def test_unreachable_until_the_deadline_reports_unreachable() -> None:
    bmc = ScriptedBmc([BmcUnreachable("BMC x: unreachable")], off_error=BmcUnreachable("BMC x: unreachable"))
    r = confirm_off(bmc, deadline=0.2, poll=0.05)
    assert not r.confirmed and r.state is UNKNOWN and isinstance(r.error, BmcUnreachable)


def test_a_refused_off_order_still_confirms_on_an_off_reading() -> None:
    """Some BMCs refuse ``power off`` when already off: the reading decides."""
    bmc = ScriptedBmc([OFF], off_error=BmcCommandFailed("BMC x: failed"))
    assert confirm_off(bmc, deadline=1, poll=0.05).confirmed


def test_unreachable_then_off_confirms() -> None:
    bmc = ScriptedBmc([BmcUnreachable("u"), BmcUnreachable("u"), OFF])
    r = confirm_off(bmc, deadline=2, poll=0.02)
    assert r.confirmed and r.error is None and r.attempts == 3


def test_cancel_stops_it() -> None:
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    r = confirm_off(ScriptedBmc([ON]), deadline=10, poll=1.0, cancel=cancel)
    assert not r.confirmed and r.elapsed < 0.5 and "cancelled" in str(r.error)


@pytest.mark.parametrize(("deadline", "poll"), [(0, 1), (1, 0), (-1, 1)])
def test_refuses_nonsense(deadline: float, poll: float) -> None:
    with pytest.raises(InvalidArgument):
        confirm_off(ScriptedBmc([OFF]), deadline=deadline, poll=poll)
