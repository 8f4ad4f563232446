"""``pvc call state.*`` on this host: file_roots and pillar_roots from the minion config, no master."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


@pytest.fixture
def local(tmp_path: Path) -> Path:
    salt, pillar, out = tmp_path / "salt", tmp_path / "pillar", tmp_path / "out"
    salt.mkdir()
    pillar.mkdir()
    (salt / "top.sls").write_text("base:\n  'G@os:Debian and loc*':\n    - match: compound\n    - motd\n")
    (salt / "motd.sls").write_text(f"{out}/motd:\n  file.managed:\n    - makedirs: true\n"
                                   "    - contents: {{ pillar.greeting }} from {{ grains.id }}\n")
    (pillar / "top.sls").write_text("base:\n  'loc.*':\n    - match: pcre\n    - common\n")
    (pillar / "common.sls").write_text("greeting: hi\n")
    cfg = {"id": "local1", "root_dir": str(tmp_path / "root"), "grains": {"os": "Debian"},
           "modules": {"state": {"file_roots": {"base": [str(salt)]}, "pillar_roots": {"base": [str(pillar)]}}}}
    (tmp_path / "minion").write_text(yaml.safe_dump(cfg))
    return tmp_path


def _call(d: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pvc.cli.main", "call", "-c", str(d), *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_call_state_apply_highstate_then_idempotent(local):
    first = _call(local, "state.apply")
    assert first.returncode == 0, first.stderr
    assert "Succeeded: 1 (changed=1)" in first.stdout and "Summary for local" in first.stdout
    assert (local / "out" / "motd").read_text() == "hi from local1\n"
    second = json.loads(_call(local, "state.apply", "--out", "json").stdout)["local"]
    (entry,) = second.values()
    assert entry["result"] is True and entry["changes"] == {}


def test_call_state_test_mode_changes_nothing(local):
    proc = _call(local, "state.sls", "motd", "test=true", "--out", "json")
    (entry,) = json.loads(proc.stdout)["local"].values()
    assert entry["result"] is None and entry["changes"]
    assert not (local / "out").exists()


def test_call_render_error_is_one_clear_line(local):
    (local / "salt" / "bad.sls").write_text("x: {{ nope(\n")
    proc = _call(local, "state.sls", "bad")
    assert proc.returncode == 1 and "Rendering SLS 'bad" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
