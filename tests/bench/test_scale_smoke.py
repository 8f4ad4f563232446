"""Smoke test of ``python -m bench scale`` at two tiny sizes: every figure measured, the
master restart included (with the new master's enrolment counts), CPU-seconds by side, the memory of an aged master at the
size asked for, JSON and PNG written (with this box's Ed25519 floor)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_scale_smoke(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "scale", "--sizes", "2,4", "--processes", "2",
                           "--repeat", "2", "--aged-jobs", "3", "--aged-sizes", "4",
                           "--out-dir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=280, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [result] = tmp_path.glob("scale-*.json")
    data = json.loads(result.read_text())
    assert 0 < data["floor"]["ed25519_verify_ms"] < 5
    assert [r["minions"] for r in data["runs"]] == [2, 4]
    for run in data["runs"]:
        assert run["startup"]["answered"] == run["minions"] and run["ping_api"]["complete_runs"] == 2
        authenticated = run["startup"]["authenticated"]  # heard on the bus: every session's start, once
        assert authenticated["heard"] == authenticated["of"] == run["minions"]
        assert 0 < authenticated["seconds"] <= run["startup"]["seconds"]
        assert run["ping_cli"]["complete_runs"] == 1 and run["master"]["rss_mib"] > 0 and run["alive"] is True
        cpu = run["cpu"]  # where the time goes: both sides, both kinds of thread, start-up and per ping
        for phase in ("startup", "per_ping"):  # a ping to 2 minions may take less than a clock tick
            assert set(cpu[phase]) == {"master", "swarm", "total"} and cpu[phase]["total"] >= 0
            for side in ("master", "swarm"):  # the kernel's part is within the two kinds, not beside them
                assert set(cpu[phase][side]) == {"python", "libzmq", "kernel"}
                assert cpu[phase][side]["kernel"] <= cpu[phase][side]["python"] + cpu[phase][side]["libzmq"]
            assert cpu[phase]["total"] == pytest.approx(sum(cpu[phase][side][kind] for side in ("master", "swarm")
                                                            for kind in ("python", "libzmq")), abs=0.002)
        assert cpu["startup"]["swarm"]["python"] > 0.1  # the swarm processes' own start, at least
    last = data["runs"][-1]
    assert "aged" not in data["runs"][0]
    assert last["aged"]["jobs"] == 3 and last["aged"]["complete_runs"] == 3 and last["aged"]["rss_mib"] > 0
    assert last["restart"]["answered"] == 4 and last["ping_after_restart"]["returned"] == [4]
    enrolment = last["restart"]["enrolment"]  # the new master's own account of the herd coming back
    assert enrolment["accepted"] == 4 and enrolment["abandoned"] == 0 and enrolment["repeated"] == 0
    assert result.with_suffix(".png").stat().st_size > 10_000
    assert "| 4 |" in proc.stdout
    assert re.search(r"^\| 4 \|.* \| [0-9.]+ \(4/4\) \|$", proc.stdout, re.M), proc.stdout  # the restart: all back


def test_swarm_files_on_tmpfs(tmp_path: Path) -> None:
    """``--swarm-files tmpfs``: the swarm's identities keep their files in their own directory
    under /dev/shm (each process's ``root_dir``), removed at the end; the master's stay on disk."""
    from bench.pvc import PvcSystem
    from bench.scale import SHM

    system = PvcSystem(tmp_path / "sys")
    started: list[tuple[str, int]] = []
    system.cluster.start_minion = lambda mid, swarm=0: started.append((mid, swarm))  # type: ignore[method-assign]
    system.start_swarm(["s0", "s1"], 3, tmp_path / "files")
    assert started == [("s0", 3), ("s1", 3)]
    for base in ("s0", "s1"):
        cfg = yaml.safe_load((system.cluster.minion_dir(base) / "minion").read_text())
        assert cfg["root_dir"] == str(tmp_path / "files" / base)
    before = set(Path(SHM).glob("pvc-scale-swarm-*"))
    proc = subprocess.run([sys.executable, "-m", "bench", "scale", "--sizes", "2", "--processes", "1", "--repeat", "1",
                           "--aged-jobs", "0", "--no-restart", "--swarm-files", "tmpfs", "--out-dir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=200, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [result] = tmp_path.glob("scale-*.json")
    data = json.loads(result.read_text())
    assert data["options"]["swarm_files"] == "tmpfs" and data["runs"][0]["startup"]["answered"] == 2
    assert set(Path(SHM).glob("pvc-scale-swarm-*")) == before  # nothing left behind
