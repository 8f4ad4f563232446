"""pvc(1) from the click help: every command is in it, roff renders it without a warning."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from pvc.cli.main import SHORT_HELP, cli
from pvc.cli.manpage import escape, render, walk


def test_escape_keeps_roff_requests_out_of_text() -> None:
    assert escape(".not a request\n'nor this") == "\\&.not a request\n\\&'nor this"
    assert escape(r"a\b --opt") == r"a\eb \-\-opt"


def test_every_command_and_option_is_on_the_page() -> None:
    page = render(cli, date=datetime.date(2026, 1, 2))
    assert page.startswith('.TH PVC 1 "2026-01-02" "pvc ')
    paths = [ctx.command_path for _, ctx in walk(cli, click.Context(cli, info_name="pvc"))]
    for name in SHORT_HELP:
        assert f"pvc {name}" in paths
    assert {"pvc key accept", "pvc node flush", "pvc vm define", "pvc manpage"} <= set(paths)
    for path in paths:
        assert f'.SS "{escape(path)}' in page
    assert "\\-\\-batch" in page and "\\-\\-wait" in page  # options of run and node flush


def test_cli_writes_pvc_1_that_man_renders(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pvc.cli.main", "manpage", "--out", str(tmp_path / "man")],
                          capture_output=True, text=True, check=False, timeout=60,
                          env={**os.environ, "SOURCE_DATE_EPOCH": "0"})
    assert proc.returncode == 0, proc.stderr
    page = tmp_path / "man" / "pvc.1"
    assert proc.stdout.strip() == str(page)
    assert '"1970-01-01"' in page.read_text()
    if shutil.which("groff") is None:
        pytest.fail("groff is missing (Debian's man-db depends on it): cannot check the page renders")
    rendered = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True,
                              check=False, timeout=60)
    assert rendered.returncode == 0 and rendered.stderr == "", rendered.stderr
