"""Smoke test of ``python -m bench cluster``: 2 VMs, one primary kill, parallel 2, as a whole process.

Checks the JSON (every part measured, zero-downtime evidence per run, a new primary that acted,
idle RSS of both kinds of minion), the PNG and the markdown table, that ``pvc lab down`` left the
lab CLEAN and that no process of the run is left behind. Targets may PASS or FAIL here (a shared
host); the verdicts on the lab are tests/runners/test_lab.py's business.
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


@pytest.mark.timeout(90)
def test_cluster_bench_smoke(tmp_path: Path) -> None:
    reason = missing_lab_support()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "bench", "cluster", "--vms", "2", "--repeat", "1", "--parallel", "2",
                           "--out-dir", str(out)], check=False, cwd=REPO, capture_output=True, text=True, timeout=85)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    [result_file] = out.glob("cluster-*.json")
    result = json.loads(result_file.read_text())
    assert result["errors"] == {}
    assert result["lab"]["down"].startswith("CLEAN"), result["lab"]
    [run] = result["flush"]
    assert run["parallel"] == 2
    for verb in ("flush", "ready"):
        r = run[verb]
        assert r["state"] == "done" and r["vms"] == 2 and r["steps_done_live"] == 2, r
        assert r["downtime_reported"] == 2 and r["downtime_ms_max"] is not None, r
        assert r["zero_downtime"], r  # no restart, no tick gap, still ticking, still running
    [kill] = result["primary"]["runs"]
    assert kill["new"] != kill["killed"] and kill["request_owner"] == kill["new"], kill
    assert 0 < kill["recorded_s"] <= kill["acting_s"] < 30, kill
    mem = result["memory"]
    assert 0 < mem["plain_minion_rss_mib"] < mem["hypervisor_minion_rss_mib"], mem
    assert set(mem["hypervisor_minions_rss_mib"]) == {"hv1", "hv2", "hv3"}
    assert {t["target"].split(" ")[0] for t in result["targets"]} >= {"new", "flush"}
    assert result_file.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| measure | pvc | PVC (published) | target |" in proc.stdout
    assert "### Targets (issue 9)" in proc.stdout
    work = re.search(r"bench: lab (\S+)/lab\n", proc.stderr)
    assert work, proc.stderr[-1000:]
    assert not Path(work[1]).exists()  # removed after lab down
    leftovers = [p.info["pid"] for p in psutil.process_iter(["pid", "cmdline"])
                 if any(work[1] in arg for arg in (p.info["cmdline"] or []))]
    assert not leftovers, leftovers
