"""Decide what the reactor does for one event: matching rules, loop protection, rendered actions.

Pure of I/O: :meth:`Reactor.plan` returns :class:`Step` records, the service carries them out
(:mod:`pvc.reactor.service`) and tells the engine each jid it published (:meth:`Reactor.published`)
so the events of that job count one level deeper. Each event is planned once: the same
``(tag, ts)`` again (a duplicate delivery) plans nothing.

Example::

    reactor = Reactor(parse_reactor(cfg.reactor, renderer), renderer)
    for step in reactor.plan("pvc/node/hv2/dead", {}, ts=1764500000.0):
        step.kind, step.fields            # "notify", {"message": "node hv2 is dead", "level": "error"}
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pvc.reactor.config import ACTIONS, Action, JobAction, Rule, RunnerAction, StateAction
from pvc.reactor.errors import RenderError
from pvc.reactor.limits import Lineage, RateLimit, Recent
from pvc.reactor.render import Renderer

OWN_PREFIX = "pvc/reactor/"
STATE_FUNCTION = "state.apply"
_KINDS: dict[type, str] = {cls: kind for kind, cls in ACTIONS.items()}


@dataclass(frozen=True)
class Step:
    """One thing to do or to report, for one event. ``kind`` is an action (job, state, runner,
    notify) with its ``fields`` rendered, or a report: failed (render error), throttled, loop."""

    rule: str
    kind: str
    trigger: str
    depth: int
    index: int = -1                      # the action's place in its rule; -1 for a rule's report
    fields: dict[str, Any] = field(default_factory=dict)

    def report(self, **extra: Any) -> dict[str, Any]:
        """The data of this step's ``pvc/reactor/<rule>/<kind>`` event."""
        return {"trigger": self.trigger, "action": self.index, "depth": self.depth, **self.fields, **extra}


class Reactor:
    def __init__(self, rules: tuple[Rule, ...], renderer: Renderer,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rules, self.renderer = rules, renderer
        self.limits = {rule.name: RateLimit(rule.max_per_minute, clock) for rule in rules}
        self.lineage = Lineage()
        self.seen = Recent()

    def prefixes(self) -> list[str]:
        """The bus subscriptions that carry every event some rule can match."""
        kept: list[str] = []
        for prefix in sorted({rule.prefix for rule in self.rules}):  # a prefix covers every longer one
            if not kept or not prefix.startswith(kept[-1]):
                kept.append(prefix)
        return kept

    def published(self, jid: str, step: Step) -> None:
        self.lineage.record(jid, step.depth + 1)

    def plan(self, tag: str, data: Mapping[str, Any], ts: float) -> list[Step]:
        if tag.startswith(OWN_PREFIX) or not self.seen.add((tag, ts)):
            return []
        depth = self.lineage.depth(tag)
        steps: list[Step] = []
        for rule in self.rules:
            if not rule.matches(tag):
                continue
            if depth >= rule.max_depth:
                steps.append(Step(rule.name, "loop", tag, depth, fields={"max_depth": rule.max_depth}))
                continue
            limit = self.limits[rule.name]
            if not limit.take():
                if not limit.quiet:
                    limit.quiet = True
                    steps.append(Step(rule.name, "throttled", tag, depth,
                                      fields={"max_per_minute": rule.max_per_minute}))
                continue
            steps.extend(self._action(rule, i, action, tag, data, depth) for i, action in enumerate(rule.actions))
        return steps

    def _action(self, rule: Rule, index: int, action: Action, tag: str, data: Mapping[str, Any],
                depth: int) -> Step:
        kind = _KINDS[type(action)]
        try:
            fields = self._fields(action, tag, data)
        except RenderError as exc:
            return Step(rule.name, "failed", tag, depth, index, {"of": kind, "error": str(exc)})
        return Step(rule.name, kind, tag, depth, index, fields)

    def _fields(self, action: Action, tag: str, data: Mapping[str, Any]) -> dict[str, Any]:
        def render(value: Any) -> Any:
            return self.renderer.render(value, tag, data)

        if isinstance(action, JobAction):
            return {"tgt": render(action.tgt), "tgt_type": action.tgt_type, "fun": action.fun,
                    "args": render(action.args), "kwargs": render(dict(action.kwargs)), "timeout": action.timeout}
        if isinstance(action, StateAction):
            return {"tgt": render(action.tgt), "tgt_type": action.tgt_type, "fun": STATE_FUNCTION,
                    "args": [action.sls], "kwargs": {"test": True} if action.test else {},
                    "timeout": action.timeout}
        if isinstance(action, RunnerAction):
            return {"name": action.name, "args": render(action.args), "kwargs": render(dict(action.kwargs))}
        return {"message": render(action.message), "level": action.level}

