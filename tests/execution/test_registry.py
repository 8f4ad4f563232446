"""The explicit registry: names declared, loaded on first use, duplicates and unknowns refused."""

from __future__ import annotations

import pytest

from pvc.errors import UnknownFunction
from pvc.execution import ExecContext, ModuleSpec, Registry
from pvc.execution.registry import DuplicateName


def ping(ctx: ExecContext) -> bool:
    """Answer True."""
    return True


def list_(ctx: ExecContext, limit: int = 10) -> list[int]:
    """A trailing underscore avoids shadowing a builtin; the registered name drops it."""
    return list(range(limit))


def test_functions_are_addressed_as_module_dot_function() -> None:
    reg = Registry()
    reg.add(ModuleSpec("demo", functions=(ping, list_), inline=("ping",)))
    assert [f.fullname for f in reg.functions()] == ["demo.list", "demo.ping"]
    spec = reg.get("demo.list")
    assert spec.func is list_ and not spec.inline and reg.get("demo.ping").inline
    assert str(spec.call_signature) == "(limit: 'int' = 10) -> 'list[int]'"  # the context is not bound by jobs
    assert set(spec.rules) == {"limit"}


def test_modules_load_on_first_use_only() -> None:
    loads: list[str] = []

    def loader() -> ModuleSpec:
        loads.append("demo")
        return ModuleSpec("demo", functions=(ping,))

    reg = Registry()
    reg.declare("demo", loader)
    assert reg.names() == ["demo"] and reg.loaded() == [] and loads == []
    assert reg.get("demo.ping").func is ping
    reg.get("demo.ping")
    assert loads == ["demo"]


def test_duplicates_and_unknown_names_are_refused() -> None:
    reg = Registry()
    reg.add(ModuleSpec("demo", functions=(ping,)))
    with pytest.raises(DuplicateName, match="module 'demo' is registered twice"):
        reg.add(ModuleSpec("demo", functions=(list_,)))
    with pytest.raises(DuplicateName, match="function 'twice.ping' is registered twice"):
        reg.add(ModuleSpec("twice", functions=(ping, ping)))
    with pytest.raises(UnknownFunction, match="no module named 'nosuch'"):
        reg.get("nosuch.ping")
    with pytest.raises(UnknownFunction, match="module 'demo' has no function 'pong'"):
        reg.get("demo.pong")
    with pytest.raises(UnknownFunction, match=r"inline names unknown functions \['pong'\]"):
        reg.add(ModuleSpec("other", functions=(ping,), inline=("pong",)))


def test_argless_says_whether_a_call_without_arguments_binds() -> None:
    from pvc.execution.registry import FunctionSpec

    def defaults(ctx: ExecContext, a: int = 1, *rest: int, b: str = "x", **kw: int) -> None: ...
    def positional(ctx: ExecContext, a: int) -> None: ...
    def keyword_only(ctx: ExecContext, *, b: str) -> None: ...

    module = ModuleSpec("demo", functions=())
    assert [FunctionSpec.of(module, f.__name__, f).argless for f in (defaults, positional, keyword_only)] == \
        [True, False, False]
