"""The master's coordinator child is started again when it dies, with a doubling wait while it
keeps dying, each death logged with how it ended; stop() ends it and starts no other."""

from __future__ import annotations

import logging
import os
import signal
import time

import pytest

from pvc.master.coordinator import CoordinatorChild
from tests.cluster.wait import wait_for


def test_a_killed_child_is_started_again_and_stop_ends_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "pvc.master.coordinator")
    child = CoordinatorChild(["sleep", "60"], first_wait=0.1).start()
    try:
        wait_for(lambda: child.pid, 10, "the first child")
        first = child.pid
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: child.pid not in (0, first), 10, "a second child")
        assert child.restarts == 1
        assert f"cluster coordinator (pid {first}) died: killed by SIGKILL; starting another in 0.1 s" in caplog.text
    finally:
        second = child.pid
        child.stop(grace=2)
    assert child.pid == 0
    with pytest.raises(ProcessLookupError):
        os.kill(second, 0)
    time.sleep(0.3)
    assert child.restarts == 1  # none after stop


def test_a_child_that_keeps_dying_is_restarted_ever_more_slowly() -> None:
    child = CoordinatorChild(["sh", "-c", "exit 3"], first_wait=0.1, max_wait=0.4).start()
    try:
        time.sleep(1.6)  # waits 0.1, 0.2, 0.4, 0.4, 0.4: about 5 restarts (15 at a fixed 0.1 s)
    finally:
        child.stop(grace=2)
    assert 3 <= child.restarts <= 7, child.restarts
