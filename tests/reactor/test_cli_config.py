"""A bad ``reactor:`` or ``beacons:`` section stops ``pvc master`` / ``pvc minion`` at once with
one line naming the place, never a traceback and never a daemon half up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pvc.cli.main", *argv], capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.mark.parametrize(("role", "section", "message"), [
    ("master", {"reactor": [{"pvc/x/*": [{"job": {"tgt": "*", "fun": "{{ data.f }}"}}]}]},
     "master: reactor[0].actions[0].job: fun is not a template"),
    ("master", {"reactor": [{"pvc/x/*": [{"notify": {"message": "{{ oops"}}]}]},
     "master: reactor[0].actions[0].notify.message: template error line 1"),
    ("minion", {"id": "m1", "beacons": {"d": {"disk": {"path": "/", "max_percent": 101}}}},
     "minion: beacons.d.disk: max_percent must be between 0 and 100"),
])
def test_bad_section_is_one_line(tmp_path: Path, role: str, section: dict, message: str) -> None:
    (tmp_path / role).write_text(yaml.safe_dump({"root_dir": "root", **section}))
    proc = run(role, "-c", str(tmp_path))
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
