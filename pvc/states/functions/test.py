"""Salt's ``test`` states: no effect, predictable results, for exercising requisites.

Example (SLS)::

    always-changes:
      test.succeed_with_changes
"""

from __future__ import annotations

from typing import Any

from pvc.states.context import StateContext
from pvc.states.registry import StateModule
from pvc.states.result import StateResult

_CHANGES = {"testing": {"old": "Unchanged", "new": "Something pretended to change"}}


def succeed_with_changes(ctx: StateContext, name: str) -> StateResult:
    return ctx.plan(_CHANGES, lambda: None, comment="Success!",
                    test_comment="If we weren't testing, this would be successful with changes")


def succeed_without_changes(ctx: StateContext, name: str) -> StateResult:
    return StateResult(True, {}, "Success!")


def fail_with_changes(ctx: StateContext, name: str) -> StateResult:
    if ctx.test:
        return StateResult(None, dict(_CHANGES), "If we weren't testing, this would be failed with changes")
    return StateResult(False, dict(_CHANGES), "Failure!")


def fail_without_changes(ctx: StateContext, name: str) -> StateResult:
    if ctx.test:
        return StateResult(None, {}, "If we weren't testing, this would be a failure")
    return StateResult(False, {}, "Failure!")


def show_notification(ctx: StateContext, name: str, text: str | None = None) -> StateResult:
    return StateResult(True, {}, text if text is not None else name)


def configurable_test_state(ctx: StateContext, name: str, changes: Any = True, result: Any = True,
                            comment: str = "", warnings: Any = None) -> StateResult:
    """A state whose result and changes the SLS chooses (``random`` is not offered: tests must
    be repeatable); in test mode a would-be change gives None, as any state."""
    planned = {"testing": {"old": "Unchanged", "new": "Something pretended to change"}} if changes else {}
    if ctx.test:
        return StateResult(None if planned else True, planned, comment or "This is a test")
    return StateResult(bool(result), planned, comment,
                       warnings=tuple(warnings if isinstance(warnings, list) else [warnings] if warnings else []))


def nop(ctx: StateContext, name: str, **kwargs: Any) -> StateResult:
    return StateResult(True, {}, "Success!")


def mod_watch(ctx: StateContext, name: str, sfun: str = "", **kwargs: Any) -> StateResult:
    """A watched state changed: report it as a change (test mode: None)."""
    return ctx.plan({"watch": {"sfun": sfun}}, lambda: None, comment="Watch statement fired.",
                    test_comment="Watch statement would fire.")


MODULE = StateModule(
    "test",
    functions=(succeed_with_changes, succeed_without_changes, fail_with_changes, fail_without_changes,
               show_notification, configurable_test_state, nop),
    mod_watch=mod_watch,
)
