"""The short seeded chaos run of CI: ``python -m bench chaos`` as a whole process, two faults
with a fixed seed on a real lab, zero invariant violations.

Checks the exit code, the JSON (every step carried out, checked, no violation; the recoveries
timed), the PNG and the printed report, that ``pvc lab down`` left the lab CLEAN and that no
process of the run is left behind. The recovery target (< 15 s) is reported, not asserted: this
is a shared machine (tests/lab/test_fence.py holds the target on a quieter lab).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.lab.conftest import missing_lab_support

REPO = Path(__file__).resolve().parents[2]
SEED = 7
FAULTS = "hang,partition,zk-leader,power"


@pytest.mark.timeout(180)
def test_chaos_smoke(tmp_path: Path) -> None:
    reason = missing_lab_support()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "bench", "chaos", "--seed", str(SEED), "--steps", "2", "--vms", "3",
                           "--faults", FAULTS, "--boot-wait", "20", "--out-dir", str(out)],
                          check=False, cwd=REPO, capture_output=True, text=True, timeout=170)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    [result_file] = out.glob("chaos-*.json")
    result = json.loads(result_file.read_text())
    assert result["errors"] == {}, result["errors"]
    assert result["lab"]["down"].startswith("CLEAN"), result["lab"]
    steps = result["steps"]
    assert [s["kind"] == "repair" for s in steps] == [False, True, False, True], steps
    assert all(s["kind"] in FAULTS.split(",") for s in steps[::2])
    assert all(not s["violations"] and not s["error"] for s in steps), steps
    summary = result["summary"]
    assert summary["violations"] == [] and summary["failed_steps"] == []
    assert sum(summary["faults"].values()) == 2
    moving = [s for s in steps[::2] if s["moved"]]
    assert summary["recoveries"] == len(moving)
    assert all(s["recovery_s"] is not None and s["recovery_s"] > 0 for s in moving)
    assert result["watch_samples"] > 10
    boots = result["boots"]
    assert boots["violations"] == [] and set(boots["expected"]) == {"x1", "x2", "x3"}
    assert sum(boots["expected"].values()) == 3 + sum(len(s["started"]) for s in steps)
    assert result_file.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "invariant violations: 0" in proc.stdout and "| step | fault |" in proc.stdout
    work = re.search(r"bench chaos: lab (\S+)/lab\n", proc.stderr)
    assert work, proc.stderr[-1000:]
    assert not Path(work[1]).exists()
    leftovers = [p.info["pid"] for p in psutil.process_iter(["pid", "cmdline"])
                 if any(work[1] in arg for arg in (p.info["cmdline"] or []))]
    assert not leftovers, leftovers
