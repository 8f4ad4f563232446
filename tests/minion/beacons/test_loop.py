"""The beacon loop: one event per edge (crossed, recovered, changed), never one per sample;
and a minion without beacons imports none of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pvc.minion.beacons.checks import FileCheck, ProcessCheck, Sample
from pvc.minion.beacons.config import Beacon
from pvc.minion.beacons.loop import BeaconLoop, edge
from tests.cluster.wait import wait_for


def test_edges() -> None:
    ok, bad = Sample(False, False, {}), Sample(True, True, {})
    assert edge(None, ok) is None and edge(None, bad) == "crossed"
    assert edge(ok, ok) is None and edge(bad, bad) is None
    assert edge(ok, bad) == "crossed" and edge(bad, ok) == "recovered"
    assert edge(Sample("a", False, {}), Sample("b", False, {})) == "changed"


def test_loop_fires_once_per_edge_at_each_interval(tmp_path: Path) -> None:
    fired: list[tuple[str, dict[str, Any]]] = []
    pid_file, watched = tmp_path / "d.pid", tmp_path / "watched"
    loop = BeaconLoop((Beacon("daemon", 1.0, ProcessCheck(pid_file=str(pid_file))),
                       Beacon("conf", 5.0, FileCheck(str(watched)))), "hv1", lambda t, d: fired.append((t, d)))
    assert loop.step(0.0) == 1.0                     # both sampled at start; the pid file is missing
    assert [(t, d["state"]) for t, d in fired] == [("pvc/beacon/hv1/daemon", "crossed")]
    for now in (1.0, 2.0, 3.0):                      # still missing: nothing more
        loop.step(now)
    assert len(fired) == 1
    pid_file.write_text(f"{os.getpid()}")
    watched.write_text("x")
    assert loop.step(4.0) == 5.0
    assert [d["state"] for _, d in fired] == ["crossed", "recovered"]   # the file waits for its interval
    loop.step(5.0)
    assert fired[-1] == ("pvc/beacon/hv1/conf", {"beacon": "conf", "kind": "file", "state": "changed",
                                                 "path": str(watched), "exists": True, "size": 1,
                                                 "mtime": watched.stat().st_mtime})
    assert len(fired) == 3


def test_a_check_that_cannot_read_is_logged_once_and_fires_nothing(tmp_path: Path, caplog: Any) -> None:
    from pvc.minion.beacons.checks import DiskCheck

    fired: list[Any] = []
    loop = BeaconLoop((Beacon("gone", 1.0, DiskCheck(str(tmp_path / "nope"), 50)),), "hv1",
                      lambda t, d: fired.append(t))
    for now in range(5):
        loop.step(float(now))
    assert fired == [] and caplog.text.count("beacon gone (disk): cannot sample") == 1


def test_thread_starts_and_stops(tmp_path: Path) -> None:
    from pvc.config import minion_from_mapping

    fired: list[str] = []
    cfg = minion_from_mapping({"id": "hv1", "beacons": {"conf": {"file": {"path": str(tmp_path / "f")},
                                                                 "interval": 0.1}}}, tmp_path)
    loop = BeaconLoop.start(cfg, lambda t, d: fired.append(d["state"]))
    sizes = iter(range(1, 1000))

    def grow() -> bool:  # the thread's first sample may come before or after any one write
        (tmp_path / "f").write_text("x" * next(sizes))
        return bool(fired)

    try:
        wait_for(grow, 5, "the file beacon")
    finally:
        loop.stop()
    assert set(fired) == {"changed"}
    assert loop._thread is not None and not loop._thread.is_alive()


def test_an_idle_minion_imports_no_beacon_code() -> None:
    """What the lean minion image loads (pvc.minion.__main__ and the daemon) has no beacon module."""
    code = ("import sys, pvc.minion.__main__, pvc.minion.daemon; "
            "print(sorted(m for m in sys.modules if 'beacon' in m or m.startswith('jinja2')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
