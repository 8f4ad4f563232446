"""What a state function receives first: :class:`StateContext`, and the plan-then-apply helper.

A state function computes the changes it would make from facts, then calls :meth:`StateContext.
plan` with them and an ``apply`` callback. ``plan`` is the single place where ``test=True``
differs: the callback is skipped and the result is None when something would change. So a dry run
is the same code path as a real run, minus the apply step (pyinfra's rule).

Example::

    def managed(ctx: StateContext, name: str, contents: str = "") -> StateResult:
        current = read(name)
        changes = {} if current == contents else {"diff": diff(current, contents)}
        return ctx.plan(changes, lambda: write(name, contents),
                        comment=f"File {name} updated", unchanged=f"File {name} is in the correct state")
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pvc.states.caller import ExecCaller
from pvc.states.errors import StateError
from pvc.states.render import RenderContext
from pvc.states.result import StateResult
from pvc.states.tree import StateTree


class CommandRunner(Protocol):
    """Runs an ``unless``/``onlyif``/``check_cmd`` shell command (as ``runas``) -> exit code."""

    def __call__(self, command: str, runas: str | None = None) -> int: ...


@dataclass(frozen=True)
class StateContext:
    """What a state function sees. ``caller`` runs execution functions (``network.bridge``
    calls ``network.bridge_present``), ``tree`` serves ``salt://`` sources and ``render`` is the
    template context for ``template: jinja``; each is None where a run has none (unit tests)."""

    test: bool = False
    minion_id: str = ""
    grains: Mapping[str, Any] = field(default_factory=dict)
    pillar: Mapping[str, Any] = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("pvc.states"))
    run_cmd: CommandRunner | None = None
    caller: ExecCaller | None = None
    tree: StateTree | None = None
    render: RenderContext | None = None
    cache_dir: str = "/var/cache/pvc"  # file.managed's backup copies go under <cache_dir>/file_backup

    def with_test(self, test: bool) -> StateContext:
        return self if test == self.test else replace(self, test=test)

    def call(self, fun: str, *args: Any, **kwargs: Any) -> Any:
        """Run execution function ``fun`` with this run's test flag (modules plan in test mode)."""
        if self.caller is None:
            raise StateError(f"{fun} is an execution function and this state run has no caller for them")
        return self.caller.call(fun, args, kwargs, test=self.test)

    def plan(self, changes: Mapping[str, Any], apply: Callable[[], object], *, comment: str,
             unchanged: str = "", test_comment: str = "") -> StateResult:
        """No changes: True. Test mode: None with the planned changes. Else apply, True."""
        if not changes:
            return StateResult(True, {}, unchanged or comment)
        if self.test:
            return StateResult(None, dict(changes), test_comment or f"{comment} (test mode: not applied)")
        apply()
        return StateResult(True, dict(changes), comment)
