"""Smoke test of ``python -m bench flood``: 3 s, 4 sockets, as a whole process.

Checks the JSON (baseline and flood figures, three targets, violating enrolment connections
closed by the master, unknown-key CURVE handshakes on the channel port refused), the PNG and
the markdown table, and that no process of the run is left behind. Targets may PASS or FAIL
here (a shared CI host); the verdicts are the integration suite's business
(tests/integration/test_attacks_flood.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(120)
def test_flood_smoke(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "bench", "flood", "--seconds", "3", "--sockets", "4", "--pings", "5",
                           "--out-dir", str(out)], check=False, cwd=REPO, capture_output=True, text=True, timeout=110)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    [result_file] = out.glob("flood-*.json")
    result = json.loads(result_file.read_text())
    assert result["master_alive"]
    assert result["quiet"]["ping_ms"]["runs"] == 5 and result["flood"]["ping_ms"]["runs"] >= 1
    assert result["quiet"]["rss_mib"] > 0 and result["flood"]["rss_samples"]
    assert result["quiet"]["enrol_s"] < 30 and result["flood"]["enrol_s"] < 30
    assert sum(result["sent"].values()) > 100
    sent = result["sent"]
    # the enrolment attacks are raw TCP: the master closes each violating connection
    assert sent.get("oversize_closed", 0) + sent.get("garbage_closed", 0) > 0, sent
    # the channel port: CURVE handshakes from unknown keys, each refused by the master, none admitted
    assert "curve_keys" in result["options"]["modes"] and "curve_sub" not in result["options"]["modes"]
    assert sent.get("curve_keys_refused", 0) > 0 and sent.get("curve_keys_admitted", 0) == 0, sent
    assert len(result["targets"]) == 3
    assert result_file.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| target | quiet | during flood | result |" in proc.stdout
    leftovers = [p.info["pid"] for p in psutil.process_iter(["pid", "cmdline"])
                 if any("pvc-flood-" in arg for arg in (p.info["cmdline"] or []))]
    assert not leftovers, leftovers
