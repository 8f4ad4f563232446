"""pvc.wire.replay: the floor, the time window (judged in the master's time) and seen jids."""

from __future__ import annotations

import time

import pytest

from pvc.errors import ReplayError
from pvc.wire.replay import ReplayGuard

NOW = 1_790_000_000.0


def test_fresh_job_accepted_once() -> None:
    guard = ReplayGuard(window=60)
    guard.check("a", NOW, NOW)
    with pytest.raises(ReplayError, match="already seen"):
        guard.check("a", NOW, NOW)
    with pytest.raises(ReplayError, match="already seen"):
        guard.check("a", NOW + 1, NOW + 2)  # same jid, republished with a new timestamp
    guard.check("b", NOW, NOW)


@pytest.mark.parametrize("ts", [NOW - 61, NOW + 61, 0.0])
def test_outside_the_window_refused_both_ways(ts: float) -> None:
    with pytest.raises(ReplayError, match="time window"):
        ReplayGuard(window=60).check("a", ts, NOW)


def test_window_edges_inclusive() -> None:
    guard = ReplayGuard(window=60)
    guard.check("a", NOW - 60, NOW)
    guard.check("b", NOW + 60, NOW)


def test_floor_refuses_jobs_from_before_the_session() -> None:
    guard = ReplayGuard(window=120)
    guard.floor = NOW
    with pytest.raises(ReplayError, match="before this session began"):
        guard.check("old", NOW - 0.001, NOW)  # well inside the window, but older than the session
    guard.check("new", NOW, NOW + 1)


def test_the_floor_is_checked_before_the_cache() -> None:
    guard = ReplayGuard(window=120)
    guard.floor = NOW
    with pytest.raises(ReplayError, match="before this session"):
        guard.check("x", NOW - 1, NOW)
    guard.floor = 0.0
    guard.check("x", NOW - 1, NOW)  # a refused job was not remembered


def test_a_refused_job_is_not_remembered() -> None:
    guard = ReplayGuard(window=10)
    with pytest.raises(ReplayError):
        guard.check("x", NOW - 100, NOW)
    guard.check("x", NOW, NOW)


def test_seen_jids_expire_after_twice_the_window() -> None:
    guard = ReplayGuard(window=10)
    guard.check("a", NOW, NOW)
    guard.check("b", NOW + 21, NOW + 21)  # expires "a" (remembered until NOW + 20)
    assert "a" not in guard._seen
    with pytest.raises(ReplayError, match="window"):
        guard.check("a", NOW, NOW + 21)  # and the window catches the replay


def test_memory_bounded() -> None:
    guard = ReplayGuard(window=60, max_entries=100)
    for i in range(1000):
        guard.check(f"j{i}", NOW, NOW)
        assert len(guard._seen) <= 100
    with pytest.raises(ReplayError):
        guard.check("j999", NOW, NOW)


def test_default_now_is_the_local_clock() -> None:
    guard = ReplayGuard(window=5)
    guard.check("a", time.time())
    with pytest.raises(ReplayError):
        guard.check("b", time.time() - 600)


def test_master_time_decides_not_local_time() -> None:
    """The caller passes local time + offset: a minion 10 minutes behind still accepts."""
    guard = ReplayGuard(window=120)
    master_now = time.time() + 600
    offset = master_now - time.time()
    guard.floor = master_now - 1
    guard.check("j", master_now, time.time() + offset)
    with pytest.raises(ReplayError, match="window"):
        ReplayGuard(window=120).check("j", master_now, time.time())  # without the offset
