"""A backlog of auths waiting on ``auth_rate`` leaves the master's loop asleep between tokens."""

from __future__ import annotations

import time

import psutil

from tests.cluster.pvc import PvcCluster
from tests.cluster.wait import wait_for

IDENTITIES = 16
RATE = 2.0  # auths per second: the backlog of 16 lasts ~7 s


def _accepted(c: PvcCluster) -> int:
    return sum(1 for _ in (c.master_dir / "root" / "pki" / "master" / "minions").iterdir())


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def test_a_backlog_waiting_on_auth_rate_costs_the_master_no_spinning(tmp_path) -> None:
    """The loop used to poll without sleeping whenever a request was queued, tokens or not: a
    backlog held back by ``auth_rate`` kept a core busy doing nothing (at 10,000 minions, CPU
    the rest of the box lacked). It now sleeps until the next token (``Enrolment.due_in``)."""
    with PvcCluster(tmp_path, master_options={"auth_rate": RATE}) as c:
        c.start_master()
        master = psutil.Process(c.procs["master"].pid)
        c.add_minion("sw", swarm=IDENTITIES, source_address="127.31.0.1")
        c.minion_ids = [f"sw-{n:04d}" for n in range(IDENTITIES)]
        wait_for(lambda: _accepted(c) >= 3, 30, "the first auths served")
        before, t0 = _cpu(master), time.monotonic()
        time.sleep(3.0)
        spent, waited = _cpu(master) - before, time.monotonic() - t0
        assert _accepted(c) < IDENTITIES, "no backlog left while measuring: the test proves nothing"
        assert spent < 0.25 * waited, f"master used {spent:.2f} CPU-s in {waited:.1f} s with a backlog waiting"
        c.wait_connected(timeout=60)  # and the backlog is still served, at its rate
