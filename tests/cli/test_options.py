"""Shared CLI options: where the config lives, and how function arguments are read."""

from __future__ import annotations

import inspect

import pytest
from click.testing import CliRunner

from pvc.cli.main import cli
from pvc.cli.options import SHELL_FUNCTIONS, function_arguments, parse_call_args
from pvc.modules import default_registry
from pvc.results import Return
from tests.cli.fakes import FakeClient, use_fake


@pytest.mark.parametrize("argv, env, want", [
    (["run", "*", "test.ping"], {}, "/etc/pvc"),
    (["run", "*", "test.ping"], {"PVC_CONFIG_DIR": "/srv/env"}, "/srv/env"),
    (["-c", "/srv/group", "run", "*", "test.ping"], {"PVC_CONFIG_DIR": "/srv/env"}, "/srv/group"),
    (["run", "-c", "/srv/sub", "*", "test.ping"], {}, "/srv/sub"),
    (["-c", "/srv/group", "run", "-c", "/srv/sub", "*", "test.ping"], {}, "/srv/sub"),
    (["--config-dir", "/srv/group", "job", "list"], {}, "/srv/group"),
])
def test_config_dir_from_group_env_or_subcommand(monkeypatch, argv, env, want):
    monkeypatch.delenv("PVC_CONFIG_DIR", raising=False)
    fake = use_fake(monkeypatch, FakeClient(returns=[("m1", Return(True, True))]))
    fake.jobs = lambda limit, fun: []  # type: ignore[attr-defined]
    res = CliRunner().invoke(cli, argv, env=env)
    assert fake.config_dir == want, res.output


def test_key_values_and_yaml_scalars():
    assert parse_call_args(("1", "two", "[3]", "x=true", "s=a=b")) == \
        ([1, "two", [3]], {"x": True, "s": "a=b"})


@pytest.mark.parametrize("fun, tokens, want", [
    ("cmd.run", ["echo hi; exit 3"], (["echo hi; exit 3"], {"python_shell": True})),
    ("cmd.run", ["true"], (["true"], {"python_shell": True})),
    ("cmd.retcode", ["cmd=exit 3"], ([], {"cmd": "exit 3", "python_shell": True})),
    ("cmd.run", ["ls /", "python_shell=false"], (["ls /"], {"python_shell": False})),
    ("cmd.run", ['["ls", "-l"]'], ([["ls", "-l"]], {})),
    ("test.echo", ["true"], ([True], {})),
])
def test_cmd_functions_default_to_the_shell(fun, tokens, want):
    assert function_arguments(fun, tokens) == want


def test_shell_functions_are_the_cmd_functions_with_python_shell():
    reg = default_registry()
    with_shell = {f.fullname for f in reg.functions() if "python_shell" in inspect.signature(f.func).parameters}
    assert with_shell == SHELL_FUNCTIONS
