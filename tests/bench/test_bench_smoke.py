"""Smoke test of the benchmark harness: both systems, N=2, R=2, 1 s throughput windows.

Runs ``python -m bench`` as a whole process against real daemons (it installs Salt into its
venv first if missing, ~70 s), then checks that every metric was measured for both systems, the
JSON, PNG and markdown were written, and that no process of the run is left behind.
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
METRICS = ("startup", "ping_api", "ping_cli", "master_memory", "minion_memory", "echo_1mib", "echo_1mib_bus",
           "cmd_run_true", "jobs_sequential", "jobs_pipelined")


@pytest.fixture
def work() -> Iterator[Path]:
    """A short temporary directory: Salt's unix socket paths under it must stay < 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="pb-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.timeout(420)
def test_bench_smoke(tmp_path: Path, work: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--minions", "2", "--repeat", "2", "--seconds", "1", "--out-dir", str(out)],
        cwd=REPO, env={**os.environ, "TMPDIR": str(work)}, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    [result_file] = out.glob("*.json")
    results = json.loads(result_file.read_text())
    for system in ("pvc", "salt"):
        metrics = results["runs"][system]["2"]
        for name in METRICS:
            assert "error" not in metrics[name], (system, name, metrics[name])
        assert metrics["startup"]["answered"] == 2
        assert metrics["ping_api"]["complete_runs"] == 2, (system, metrics["ping_api"])
        assert metrics["ping_cli"]["complete_runs"] == 2, (system, metrics["ping_cli"])
        assert metrics["jobs_sequential"]["jobs"] > 0 and metrics["jobs_pipelined"]["jobs"] > 0
        assert results["versions"][system]["version"]
        assert results["version_cli"][system]["median"] > 0
    assert results["host"]["cpus"] >= 1 and len(results["host"]["loadavg_end"]) == 3
    assert len(results["targets"]) == 11
    assert result_file.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| target | pvc | Salt | pvc × | result |" in proc.stdout

    leftovers = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        if any(str(work) in arg for arg in (p.info["cmdline"] or [])):
            leftovers.append((p.info["pid"], p.info["cmdline"]))
    assert not leftovers, leftovers
