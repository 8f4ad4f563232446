"""JobControl: deadline, cancellation and the terminators run_process attaches; lanes table."""

from __future__ import annotations

import threading
import time

import pytest

from pvc.errors import CommandTimeout
from pvc.execution.control import JobControl, JobKilled, current_control, use_control
from pvc.execution.lanes import CLUSTER, GENERAL, LANES, lane_of


def test_deadline_counts_from_start_and_a_function_may_replace_it() -> None:
    ctl = JobControl("j1", "cmd.run", timeout=10)
    assert ctl.deadline == pytest.approx(ctl.started + 10)
    moved: list[float | None] = []
    ctl.on_deadline_change(lambda c: moved.append(c.deadline))
    ctl.set_timeout(None)  # no own limit: the default stays
    ctl.set_timeout(7200)
    assert ctl.timeout == 7200 and moved == [pytest.approx(ctl.started + 7200)]
    assert JobControl().deadline is None and JobControl().remaining() is None


def test_cancel_runs_each_attached_terminator_once() -> None:
    ctl = JobControl("j1")
    ran: list[str] = []
    first = ctl.attach(lambda: ran.append("a"))
    detached = ctl.attach(lambda: ran.append("b"))
    ctl.detach(detached)
    assert ctl.cancel(JobKilled("killed by operator")) == 1 and ran == ["a"]
    assert first is not None and ctl.cancel(CommandTimeout("late")) == 0 and ran == ["a"]
    assert str(ctl.error) == "killed by operator"
    assert ctl.attach(lambda: ran.append("c")) is None  # too late: the caller must stop its child
    with pytest.raises(JobKilled):
        ctl.check()


def test_wait_returns_early_when_cancelled() -> None:
    ctl = JobControl()
    threading.Timer(0.05, ctl.cancel, (JobKilled("killed by operator"),)).start()
    start = time.monotonic()
    assert ctl.wait(5) is True and time.monotonic() - start < 1
    assert JobControl().wait(0.01) is False
    ended = JobControl()  # ended before anyone waited: a first wait returns at once
    ended.cancel(JobKilled("killed by operator"))
    start = time.monotonic()
    assert ended.wait(5) is True and time.monotonic() - start < 1


def test_use_control_makes_it_current_in_this_thread_only() -> None:
    ctl = JobControl("j1")
    seen: list[JobControl | None] = []
    assert current_control() is None
    with use_control(ctl):
        assert current_control() is ctl
        t = threading.Thread(target=lambda: seen.append(current_control()))
        t.start()
        t.join()
    assert current_control() is None and seen == [None]


def test_lanes_are_declared_for_the_cluster_modules() -> None:
    for module in ("virt", "ceph", "network", "frr", "dnsmasq", "grains", "sys", "state", "keepalive"):
        assert lane_of(f"{module}.anything") == CLUSTER
    for fun in ("cmd.run", "test.sleep", "test.ping", "nosuch.fun", "", "virt"):
        assert lane_of(fun) == (CLUSTER if fun == "virt" else GENERAL)
    assert set(LANES.values()) == {CLUSTER, GENERAL}


def test_every_shipped_module_has_a_declared_lane() -> None:
    from pvc.modules import MODULES

    assert sorted(set(MODULES) - set(LANES)) == []
