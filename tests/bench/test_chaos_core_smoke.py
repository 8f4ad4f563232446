"""Smoke test of ``python -m bench chaos-core`` (issue 14): seed 1, 30 s of chaos, 4 minions.

Runs the command as a whole process against real daemons, then checks that it lost nothing
(exit code 0, ``lost`` empty), that the faults really happened, that jobs were published and
returns stored, and that no process of the run is left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def work() -> Iterator[Path]:
    """The run's TMPDIR: every process it starts has this path on its command line."""
    path = Path(tempfile.mkdtemp(prefix="pc-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.timeout(120)
def test_chaos_core_smoke(tmp_path: Path, work: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "chaos-core", "--seed", "1", "--seconds", "30", "--minions", "4",
         "--drain", "30", "--out-dir", str(out)],
        check=False, cwd=REPO, env={**os.environ, "TMPDIR": str(work)}, capture_output=True, text=True,
        timeout=110)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-5000:]

    [result_file] = out.glob("chaos-core-*.json")
    res = json.loads(result_file.read_text())
    assert res["seed"] == 1 and res["lost"] == [] and res["crashes"] == []
    assert res["ledger_jobs"] > 20 and res["sync_jobs"] > 0 and res["returns"] > 20
    faults = res["faults"]
    assert sum(c.get("kill", 0) + c.get("stop", 0) for c in faults.values()) >= 3, faults
    assert sum(c.get("restart", 0) for c in faults.values()) == sum(c.get("kill", 0) for c in faults.values())
    assert "LOST: 0" in proc.stdout

    leftovers = [(p.info["pid"], p.info["cmdline"]) for p in psutil.process_iter(["pid", "cmdline"])
                 if any(str(work) in arg for arg in (p.info["cmdline"] or []))]
    assert not leftovers, leftovers
