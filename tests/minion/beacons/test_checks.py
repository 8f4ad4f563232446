"""Each beacon check against the real machine (tmp files, real processes, /proc, statvfs);
the /proc/meminfo parser from a fixture file."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pvc.minion.beacons.checks import (
    DiskCheck,
    FileCheck,
    LoadCheck,
    MemoryCheck,
    ProcessCheck,
    disk_percent,
    memory_percent,
    parse_meminfo,
    pid_running,
)
from tests.cluster.wait import wait_for

HERE = Path(__file__).parent


def test_meminfo_parse_and_percent() -> None:
    info = parse_meminfo((HERE / "meminfo.txt").read_text())
    assert info["MemTotal"] == 4_000_000 and info["HugePages_Total"] == 0
    assert memory_percent(info) == 75.0
    with pytest.raises(ValueError):
        memory_percent({})


def test_thresholds_on_this_machine(tmp_path: Path) -> None:
    pct = disk_percent(os.statvfs(tmp_path))
    assert 0 < pct < 100
    assert DiskCheck(str(tmp_path), 0).sample().alarm
    assert not DiskCheck(str(tmp_path), 100).sample().alarm
    assert DiskCheck(str(tmp_path), 100).sample().data["path"] == str(tmp_path)
    assert MemoryCheck(0).sample().alarm and not MemoryCheck(100).sample().alarm
    assert not LoadCheck(1e9, "15m").sample().alarm
    assert LoadCheck(-1).sample().alarm


def sleeper(tmp_path: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """A process of our own with a name no other process has: a copy of sleep."""
    name = f"pvcb{os.getpid() % 100000}"
    exe = tmp_path / name
    shutil.copy("/bin/sleep", exe)
    proc = subprocess.Popen([str(exe), "30"])
    wait_for(lambda: Path(f"/proc/{proc.pid}/comm").read_text().strip() == name, 5, f"{name} running")
    return name, proc


def test_process_by_name_and_pid_file(tmp_path: Path) -> None:
    name, proc = sleeper(tmp_path)
    pid_file = tmp_path / "d.pid"
    try:
        sample = ProcessCheck(name=name).sample()
        assert not sample.alarm and sample.data["pids"] == [proc.pid]
        pid_file.write_text(f"{proc.pid}\n")
        assert not ProcessCheck(pid_file=str(pid_file)).sample().alarm
    finally:
        proc.kill()
        proc.wait()
    assert not pid_running(proc.pid)
    assert ProcessCheck(name=name).sample().alarm
    assert ProcessCheck(pid_file=str(pid_file)).sample().alarm
    assert ProcessCheck(pid_file=str(tmp_path / "none.pid")).sample().alarm


def test_file_state_changes_with_content_and_existence(tmp_path: Path) -> None:
    path = tmp_path / "watched"
    check = FileCheck(str(path))
    absent = check.sample()
    path.write_text("a")
    created = check.sample()
    path.write_text("ab")
    changed = check.sample()
    assert len({absent.state, created.state, changed.state}) == 3
    assert not any(s.alarm for s in (absent, created, changed))
    assert check.sample().state == changed.state
