"""sys.list_modules / list_functions / doc against the default registry, via the `pvc call` path."""

from __future__ import annotations

import logging

import pytest

from pvc.config import MinionConfig
from pvc.errors import ExecutionError
from pvc.execution.context import ExecContext, log_events
from pvc.minion.functions import MinionFunctions
from pvc.modules import sys as sys_module


@pytest.fixture(scope="module")
def funcs() -> MinionFunctions:
    return MinionFunctions(MinionConfig(id="sys-test"), grains={})


def test_list_modules(funcs: MinionFunctions) -> None:
    names = funcs.call("sys.list_modules").data
    assert {"cmd", "grains", "sys", "test"} <= set(names)
    assert names == sorted(names) == [m.name for m in funcs.registry.modules()]


def test_list_functions_all_and_by_module(funcs: MinionFunctions) -> None:
    every = funcs.call("sys.list_functions").data
    assert {"cmd.run", "cmd.run_all", "cmd.retcode", "sys.doc", "grains.get", "test.ping"} <= set(every)
    assert every == sorted(every)
    assert funcs.call("sys.list_functions", ["cmd"]).data == ["cmd.has_exec", "cmd.retcode", "cmd.run", "cmd.run_all"]
    assert funcs.call("sys.list_functions", ["grains.get"]).data == ["grains.get"]


def test_list_functions_globs(funcs: MinionFunctions) -> None:
    assert funcs.call("sys.list_functions", ["cmd.run*"]).data == ["cmd.run", "cmd.run_all"]
    assert "test.ping" in funcs.call("sys.list_functions", ["*.ping"]).data
    assert funcs.call("sys.list_functions", ["nomatch*"]).data == []


@pytest.mark.parametrize(("selector", "needle"), [
    ("nosuch", "no module named 'nosuch'"),
    ("cmd.nosuch", "module 'cmd' has no function 'nosuch'"),
    ("", "give a module name"),
])
def test_unknown_names_are_clear_errors(funcs: MinionFunctions, selector: str, needle: str) -> None:
    for fun in ("sys.list_functions", "sys.doc"):
        ret = funcs.call(fun, [selector])
        assert not ret.ok and ret.error_type == "UnknownFunction" and needle in ret.error


def test_doc_shows_signature_without_context(funcs: MinionFunctions) -> None:
    doc = funcs.call("sys.doc", ["test.echo"]).data
    assert list(doc) == ["test.echo"]
    head, _, body = doc["test.echo"].partition("\n\n")
    assert head == "test.echo(text: Any) -> Any"
    assert body.startswith("Return ``text`` unchanged")
    run = funcs.call("sys.doc", ["cmd.run"]).data["cmd.run"]
    assert run.startswith("cmd.run(cmd: Text | list[Text], cwd: str | None = None,")


def test_doc_of_a_module_and_of_everything(funcs: MinionFunctions) -> None:
    assert list(funcs.call("sys.doc", ["grains"]).data) == funcs.call("sys.list_functions", ["grains"]).data
    every = funcs.call("sys.doc").data
    assert list(every) == funcs.call("sys.list_functions").data
    for name, text in every.items():
        head, _, body = text.partition("\n\n")
        assert "ctx" not in head, f"{name}: the context leaks into the signature"
        assert body.strip(), f"{name} has no docstring"


def test_without_registry_is_a_clear_error() -> None:
    ctx = ExecContext(minion_id="x", config=None, grains={}, log=logging.getLogger("t"),
                      fire_event=log_events(logging.getLogger("t")))
    with pytest.raises(ExecutionError, match="no function registry"):
        sys_module.list_modules(ctx)
