"""Bad input at the CLI: a clear one-line message and a non-zero exit code, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


def pvc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pvc.cli.main", *args], capture_output=True, text=True, timeout=30)


def test_unreachable_master(tmp_path):
    (tmp_path / "master").write_text("root_dir: root\n")
    proc = pvc("run", "-c", str(tmp_path), "*", "test.ping")
    assert proc.returncode == 2
    assert "master is not running" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_config(tmp_path):
    proc = pvc("run", "-c", str(tmp_path / "nope"), "*", "test.ping")
    assert proc.returncode == 2 and "config file not found" in proc.stderr


def test_bad_option_in_config(tmp_path):
    (tmp_path / "master").write_text("ret_prot: 5\n")
    proc = pvc("master", "-c", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("Error:")
    assert "ret_prot" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["run", "-E", "(", "test.ping"], "regular expression"),
    (["run", "-C", "G@role:web and (", "test.ping"], ""),
    (["run", "-L", "a/b", "test.ping"], "not allowed"),
    (["run", "*", "not-a-function"], "is not a function name"),
    (["run", "-E", "-L", "x", "test.ping"], "choose one target type"),
    (["run", "*", "test.ping", "--batch", "0"], "--batch"),
])
def test_bad_targets_and_functions(three_minions, args, message):
    proc = pvc(args[0], "-c", str(three_minions.master_dir), *args[1:])
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_pvc_call_runs_locally_without_master(tmp_path):
    (tmp_path / "minion").write_text("id: local1\nroot_dir: root\n")
    proc = pvc("call", "-c", str(tmp_path), "test.echo", "hi", "--out", "json")
    assert proc.returncode == 0, proc.stderr
    assert '"local": "hi"' in proc.stdout
    proc = pvc("call", "-c", str(tmp_path), "test.nosuch")
    assert proc.returncode == 1 and "has no function" in proc.stdout


def test_version_is_fast():
    proc = pvc("--version")
    assert proc.returncode == 0 and "pvc, version" in proc.stdout


def test_job_show_unknown_jid(three_minions):
    proc = pvc("job", "show", "-c", str(three_minions.master_dir), "20000101000000000000")
    assert proc.returncode == 2 and "no job with jid 20000101000000000000" in proc.stderr
