"""The master config's ``reactor:`` section as typed rules, validated once at start.

A rule maps a tag glob (``fnmatch``: ``*`` also matches ``/``) to a list of actions. Salt's
short form ``{GLOB: [actions]}`` and the long form (``tag``, ``actions``, and the optional
``name``, ``max_per_minute``, ``max_depth``) are both accepted. Each action is a one-key mapping:

``job``      ``tgt``, ``fun``, ``args``, ``kwargs``, ``tgt_type`` (glob), ``timeout`` (0: the master's)
``state``    ``tgt``, ``sls``, ``tgt_type``, ``test``: publishes the job ``state.apply [sls]``
``runner``   ``name``, ``args``, ``kwargs``: a runner (``pvc runner``) on the primary
``notify``   ``message``, ``level`` (warning): a log line and a ``pvc/reactor/<rule>/notify`` event

Targets, arguments and messages are Jinja2 templates over the event (:mod:`pvc.reactor.render`);
*what* runs (``fun``, runner ``name``, ``sls``, ``tgt_type``) is fixed by the config, never
chosen by an event. Use ``tgt_type: list`` when a target comes from an event, so a ``*`` in it is
not a glob.

Loop protection, per rule: an event caused by a job the reactor published (``pvc/job/<jid>/...``)
is one level deeper than the event that made the reactor publish it; at ``max_depth`` (3) the rule
no longer fires (``pvc/reactor/<rule>/loop``). Whatever the cause, a rule acts at most
``max_per_minute`` (60) times a minute (``pvc/reactor/<rule>/throttled``). The reactor's own
``pvc/reactor/...`` events never trigger a rule.

Example::

    reactor:
      - pvc/node/*/dead:
          - notify: {message: "node {{ parts[2] }} is dead", level: error}
      - name: restart-failed-vm
        tag: pvc/vm/*/failed
        max_per_minute: 6
        actions:
          - runner: {name: vm.start, args: ["{{ parts[2] }}"]}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from pvc.config import LOG_LEVELS
from pvc.errors import ConfigError
from pvc.events import MAX_TAG
from pvc.reactor.render import Renderer
from pvc.typedconf import build

WHERE = "master: reactor"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_FUNCTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*")
_SLS = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True)
class JobAction:
    """Publish ``fun`` on ``tgt`` and go on (the returns land in the job cache, ``pvc job show``)."""

    tgt: str
    fun: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    tgt_type: str = "glob"
    timeout: float = 0.0


@dataclass(frozen=True)
class StateAction:
    """Apply the state ``sls`` on ``tgt``: the job ``state.apply`` (the states engine's to run)."""

    tgt: str
    sls: str
    tgt_type: str = "glob"
    test: bool = False
    timeout: float = 0.0


@dataclass(frozen=True)
class RunnerAction:
    """Run the runner ``name`` (e.g. ``vm.start``) on the primary, in a worker thread."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NotifyAction:
    """Say something: a log line at ``level`` and an event that carries ``message``."""

    message: str
    level: str = "warning"


Action = JobAction | StateAction | RunnerAction | NotifyAction
ACTIONS: dict[str, type[Action]] = {"job": JobAction, "state": StateAction, "runner": RunnerAction,
                                    "notify": NotifyAction}


@dataclass(frozen=True)
class Rule:
    name: str
    tag: str
    actions: tuple[Action, ...]
    max_per_minute: int = 60
    max_depth: int = 3

    def matches(self, tag: str) -> bool:
        return fnmatchcase(tag, self.tag)

    @property
    def prefix(self) -> str:
        """The literal start of the glob: the bus subscription that can carry a match."""
        return re.split(r"[*?\[]", self.tag, maxsplit=1)[0]


@dataclass(frozen=True)
class _RawRule:
    tag: str
    actions: tuple[Any, ...]
    name: str = ""
    max_per_minute: int = 60
    max_depth: int = 3


def parse_reactor(raw: Sequence[Any], renderer: Renderer, where: str = WHERE) -> tuple[Rule, ...]:
    """Every rule of ``reactor:``; a :class:`ConfigError` naming the rule and field otherwise."""
    rules: list[Rule] = []
    for i, item in enumerate(raw):
        rule = _rule(item, i, renderer, f"{where}[{i}]")
        if any(r.name == rule.name for r in rules):
            raise ConfigError(f"{where}[{i}]: rule name {rule.name!r} is used twice")
        rules.append(rule)
    return tuple(rules)


def check_reactor(raw: Sequence[Any]) -> None:
    """Validate ``reactor:`` (templates compiled too), for a daemon about to start."""
    parse_reactor(raw, Renderer())


def _rule(item: Any, index: int, renderer: Renderer, where: str) -> Rule:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where}: expected {{TAG_GLOB: [actions]}} or {{tag: ..., actions: [...]}}")
    if "tag" not in item and "actions" not in item and len(item) == 1:
        ((tag, actions),) = item.items()
        item = {"tag": tag, "actions": actions}
    raw = build(_RawRule, item, where)
    name = raw.name or f"rule-{index + 1}"
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{where}: name {name!r} must be letters, digits, '_', '.', '-' (at most 64)")
    if not raw.tag or len(raw.tag) > MAX_TAG or not raw.tag.isprintable():
        raise ConfigError(f"{where}: tag must be a printable glob of at most {MAX_TAG} characters")
    if not 1 <= raw.max_per_minute <= 100_000:
        raise ConfigError(f"{where}: max_per_minute must be between 1 and 100000")
    if not 1 <= raw.max_depth <= 16:
        raise ConfigError(f"{where}: max_depth must be between 1 and 16")
    if not raw.actions:
        raise ConfigError(f"{where}: actions must list at least one action ({', '.join(ACTIONS)})")
    actions = tuple(_action(a, renderer, f"{where}.actions[{j}]") for j, a in enumerate(raw.actions))
    return Rule(name, raw.tag, actions, raw.max_per_minute, raw.max_depth)


def _action(item: Any, renderer: Renderer, where: str) -> Action:
    if not isinstance(item, Mapping) or len(item) != 1 or next(iter(item)) not in ACTIONS:
        raise ConfigError(f"{where}: expected one of {', '.join(f'{{{k}: {{...}}}}' for k in ACTIONS)}")
    ((kind, fields),) = item.items()
    where = f"{where}.{kind}"
    action = build(ACTIONS[kind], fields, where)
    if isinstance(action, (JobAction, StateAction)):
        _check_target(action.tgt_type, where)
        renderer.check_value(action.tgt, f"{where}.tgt")
    if isinstance(action, JobAction):
        _literal(action.fun, _FUNCTION, "fun", "module.function", where)
    if isinstance(action, StateAction):
        _literal(action.sls, _SLS, "sls", "a state name like webserver.nginx", where)
    if isinstance(action, RunnerAction):
        _literal(action.name, _FUNCTION, "name", "a runner like vm.start", where)
    if isinstance(action, (JobAction, RunnerAction)):
        renderer.check_value(action.args, f"{where}.args")
        renderer.check_value(dict(action.kwargs), f"{where}.kwargs")
    if isinstance(action, NotifyAction):
        if action.level not in LOG_LEVELS:
            raise ConfigError(f"{where}: level must be one of {', '.join(LOG_LEVELS)}")
        renderer.check(action.message, f"{where}.message")
    return action


def _check_target(tgt_type: str, where: str) -> None:
    from pvc.targeting import TARGET_TYPES

    if tgt_type not in TARGET_TYPES:
        raise ConfigError(f"{where}: tgt_type must be one of {', '.join(TARGET_TYPES)}")


def _literal(value: str, pattern: re.Pattern[str], name: str, example: str, where: str) -> None:
    if "{" in value:
        raise ConfigError(f"{where}: {name} is not a template: what runs is fixed by the config, never by an event")
    if not pattern.fullmatch(value):
        raise ConfigError(f"{where}: {name} must be {example}, got {value!r}")
