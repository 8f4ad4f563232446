"""Issue 15: minions whose clocks are far off still authenticate and answer, and the skew is
reported. The minions run under libfaketime (a real shifted wall clock in their process;
the monotonic clock is left alone, as a drifting host's would be)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.pvc import PvcCluster

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


SHM = Path("/dev/shm")


def _faked(offset: str) -> dict[str, str]:
    return {"LD_PRELOAD": LIBFAKETIME, "FAKETIME": offset, "DONT_FAKE_MONOTONIC": "1"}


def _faketime_files() -> set[Path]:
    return {path for pattern in ("faketime_shm_*", "sem.faketime_sem_*") for path in SHM.glob(pattern)}


@pytest.fixture
def faketime_leftovers() -> Iterator[None]:
    """libfaketime (0.9.10) makes a shared memory segment and a semaphore in /dev/shm, named
    with the pid, in each process it is preloaded into, and may leave them there when the process
    is stopped: those of this test's processes are removed once they are gone (requested before
    ``pvc_cluster``, so torn down after it)."""
    before = _faketime_files()
    yield
    for path in _faketime_files() - before:
        pid = path.name.rpartition("_")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            path.unlink(missing_ok=True)


@pytest.mark.skipif(not os.path.exists(LIBFAKETIME), reason="libfaketime is installed by scripts/setup.d/00-base.sh")
def test_skewed_minions_authenticate_answer_and_are_reported(faketime_leftovers: None, pvc_cluster: PvcCluster):
    c = pvc_cluster
    c.start_master()
    skews = {"ahead10": "+10m", "behind10": "-10m", "ahead3": "+3m"}
    for mid, offset in skews.items():
        c.minion_env[mid] = _faked(offset)
        c.add_minion(mid)
    c.add_minion("ontime")
    c.wait_connected(timeout=30)
    for _ in range(3):  # broadcast (publication) and list (sealed) jobs alike
        assert c.client().cmd("*", "test.ping", timeout=10) == {mid: True for mid in [*skews, "ontime"]}
        assert c.client().cmd(list(skews), "test.echo", ["x"], timeout=10) == {mid: "x" for mid in skews}
    master_log = (c.root / "master.out").read_text()
    for mid in skews:
        assert f"minion {mid}: its clock is" in master_log
    assert "minion ontime: its clock is" not in master_log
    assert "this host's clock is" in (c.root / "minion-ahead10.out").read_text()
    # the operator sees it
    skews_seen = {r.id: r.clock_skew for r in c.client().status()}
    assert 590 < skews_seen["ahead10"] < 610 and -610 < skews_seen["behind10"] < -590 and abs(skews_seen["ontime"]) < 5
    shown = c.pvc("status")
    assert shown.returncode == 0 and ("+600 s" in shown.stdout or "+599 s" in shown.stdout), shown.stdout
    assert len(set(SHM.glob("faketime_shm_*"))) >= len(skews)  # what the fixture cleans up
