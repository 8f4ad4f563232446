"""pvc.states.engine.call_state: a state function's signature is read once, and binding still
words what is wrong (missing argument, ignored keyword, **kwargs functions taking everything)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from pvc.states import engine
from pvc.states.context import StateContext
from pvc.states.engine import call_state
from pvc.states.result import StateResult


def needs_name(ctx: StateContext, name: str, mode: str = "0644") -> StateResult:
    return StateResult(True, {}, f"{name} {mode}")


def takes_all(ctx: StateContext, name: str, **kwargs: Any) -> StateResult:
    return StateResult(True, {}, ",".join(sorted(kwargs)))


def positional_only(ctx: StateContext, name: str, /) -> StateResult:
    return StateResult(True, {}, name)


def test_signature_is_read_once_per_function(monkeypatch: pytest.MonkeyPatch) -> None:
    engine._params_of.cache_clear()
    reads: list[Any] = []
    real = inspect.signature

    def counting(func: Any, *args: Any, **kwargs: Any) -> inspect.Signature:
        reads.append(func)
        return real(func, *args, **kwargs)

    monkeypatch.setattr(engine.inspect, "signature", counting)
    ctx = StateContext()
    for n in range(50):
        assert call_state(needs_name, ctx, {"name": f"f{n}"}, "x.needs_name").result is True
        assert call_state(takes_all, ctx, {"name": "a", "k": n}, "x.takes_all").comment == "k"
    assert reads == [needs_name, takes_all]


def test_binding_errors_and_ignored_arguments_are_still_worded() -> None:
    ctx = StateContext()
    missing = call_state(needs_name, ctx, {"mode": "0600"}, "x.needs_name")
    assert missing.result is False and missing.comment.startswith("x.needs_name: ") and "'name'" in missing.comment
    ignored = call_state(needs_name, ctx, {"name": "a", "bogus": 1}, "x.needs_name")
    assert ignored.result is True and ignored.comment == "a 0644"
    assert ignored.warnings == ("'bogus' is not an argument of x.needs_name: ignored",)
    everything = call_state(takes_all, ctx, {"name": "a", "bogus": 1, "z": 2}, "x.takes_all")
    assert everything.result is True and everything.comment == "bogus,z" and not everything.warnings
    refused = call_state(positional_only, ctx, {"name": "a"}, "x.positional_only")
    assert refused.result is False and refused.comment.startswith("x.positional_only: ")
