"""Help text: every command's one-line help is whole, never cut in the middle."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from pvc.cli.main import SHORT_HELP, cli


def _groups() -> list[list[str]]:
    ctx = click.Context(cli)
    return [[]] + [[name] for name in SHORT_HELP if isinstance(cli.get_command(ctx, name), click.Group)]


@pytest.mark.parametrize("path", _groups(), ids=lambda p: " ".join(p) or "pvc")
def test_command_lists_are_not_cut(path):
    res = CliRunner().invoke(cli, [*path, "--help"], terminal_width=80)
    assert res.exit_code == 0
    listing = res.output.split("Commands:", 1)[1]
    for line in listing.splitlines():
        assert not line.rstrip().endswith(("...", "(e.g.")), line
        assert line.count("(") == line.count(")"), line


def test_event_help_shows_its_whole_description():
    res = CliRunner().invoke(cli, ["event", "--help"], terminal_width=80)
    assert "VM and cluster" in res.output.replace("\n  ", " ") and "events." in res.output
    assert "listen  Print events whose tag matches a glob." in res.output
    assert "fire    Put an event with TAG and JSON DATA on the bus." in res.output


def test_run_help_documents_shell_and_double_dash():
    res = CliRunner().invoke(cli, ["run", "--help"], terminal_width=100)
    assert "python_shell=False" in res.output and "after '--'" in res.output
    assert "--progress / --no-progress" in res.output
