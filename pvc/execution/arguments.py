"""Job arguments checked against the function's own annotations, once, by the executor.

A module function says what it takes in its signature (``lines: int = 50``,
``peers: list[Mapping[str, Any]] | None = None``); nothing re-checks types inside the module. The
rules are compiled when a function is registered, so a call only runs a few ``isinstance``
tests, and a wrong type is one uniform message naming the function and the argument::

    virt.console_log: argument 'lines' must be an integer, got a boolean

Rules, as :mod:`pvc.typedconf` has them for config: ``int`` is never a ``bool``; ``float``
takes an ``int`` too; ``str``, ``bool`` and ``None`` are exact; ``list``/``Sequence``/``tuple``
take a list (or a tuple, never a string) and check every item; ``dict``/``Mapping`` check every
key and value; ``X | Y`` takes either; ``Any`` takes anything; ``Annotated[X, "name"]`` is X,
called "name" in messages. Values are never converted.
Range and format checks (1..65536 PGs, an absolute path) stay in the module: only it knows them.

Example::

    rules = compile_rules(spec.func)          # at registration
    check_arguments("test.sleep", rules, bound.arguments)
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pvc.errors import InvalidArgument

# A rule returns None when the value fits, else the complaint (without "argument 'x'").
Problem = Callable[[Any, str], "str | None"]


@dataclass(frozen=True)
class Rule:
    """What one annotation accepts: ``what`` for messages, ``fits`` for the value's own type,
    ``inside`` for the items of a container (None: nothing more to check)."""

    what: str
    fits: Callable[[Any], bool]
    inside: Problem | None = None

    def problem(self, value: Any, where: str) -> str | None:
        if not self.fits(value):
            return f"argument '{where}' must be {self.what}, got {typename(value)}"
        return self.inside(value, where) if self.inside is not None else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _is_mapping(value: Any) -> bool:
    return isinstance(value, Mapping)


_SCALARS: dict[Any, Rule] = {
    int: Rule("an integer", _is_int),
    float: Rule("a number", _is_number),
    bool: Rule("a boolean", lambda v: isinstance(v, bool)),
    str: Rule("a string", lambda v: isinstance(v, str)),
    type(None): Rule("null", lambda v: v is None),
}
_SEQUENCES = frozenset({list, tuple, collections.abc.Sequence, typing.Sequence})
_MAPPINGS = frozenset({dict, collections.abc.Mapping, typing.Mapping})


def rule_for(hint: Any) -> Rule | None:
    """The rule for one annotation; None when it accepts anything. An annotation this module
    cannot check raises TypeError, so the function fails to register instead of going unchecked."""
    if hint is Any or hint is object or hint is inspect.Parameter.empty:
        return None
    if hint is None:
        hint = type(None)
    if hint in _SCALARS:
        return _SCALARS[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return _annotated(args[0], args[1:])
    if origin in (typing.Union, types.UnionType):
        return _union([rule_for(a) for a in args])
    if hint in _SEQUENCES or origin in _SEQUENCES:
        return _sequence(hint, origin, args)
    if hint in _MAPPINGS or origin in _MAPPINGS:
        return _mapping(args)
    if origin is None and isinstance(hint, type):
        return Rule(hint.__name__, lambda v: isinstance(v, hint))
    raise TypeError(f"cannot check arguments annotated {hint!r}")


def _annotated(inner: Any, metadata: tuple[Any, ...]) -> Rule | None:
    """``Annotated[str | int, "text"]``: the inner type's rule, named by the first string."""
    rule = rule_for(inner)
    name = next((m for m in metadata if isinstance(m, str)), None)
    if rule is None or name is None:
        return rule
    return Rule(name, rule.fits, rule.inside)


def _union(options: list[Rule | None]) -> Rule | None:
    if any(o is None for o in options):
        return None  # one option takes anything
    rules = [o for o in options if o is not None]

    def inside(value: Any, where: str) -> str | None:
        # report the option whose own type fits (a list with a bad item), not "must be A or B"
        first = next(r for r in rules if r.fits(value))
        return first.inside(value, where) if first.inside is not None else None

    names = list(dict.fromkeys(r.what for r in rules))
    what = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return Rule(what, lambda v: any(r.fits(v) for r in rules), inside)


def _sequence(hint: Any, origin: Any, args: tuple[Any, ...]) -> Rule:
    if (hint is tuple or origin is tuple) and args and (len(args) != 2 or args[1] is not Ellipsis):
        raise TypeError(f"cannot check arguments annotated {hint!r}: use tuple[X, ...] or list[X]")
    item = rule_for(args[0]) if args else None
    if item is None:
        return Rule("a list", _is_sequence)
    checked = item

    def inside(value: Any, where: str) -> str | None:
        for i, element in enumerate(value):
            found = checked.problem(element, f"{where}[{i}]")
            if found is not None:
                return found
        return None

    return Rule("a list", _is_sequence, inside)


def _mapping(args: tuple[Any, ...]) -> Rule:
    key, val = (rule_for(args[0]), rule_for(args[1])) if args else (None, None)
    if key is None and val is None:
        return Rule("a mapping", _is_mapping)

    def inside(value: Any, where: str) -> str | None:
        for k, v in value.items():
            if key is not None and not key.fits(k):
                return f"argument '{where}' has a key that is not {key.what}: {k!r}"
            found = val.problem(v, f"{where}.{k}") if val is not None else None
            if found is not None:
                return found
        return None

    return Rule("a mapping", _is_mapping, inside)


def typename(value: Any) -> str:
    """How a value's type reads in a message: "a string", "null", "a list"."""
    return {type(None): "null", str: "a string", bool: "a boolean", int: "an integer", float: "a number",
            list: "a list", tuple: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class ParamRule:
    """The rule of one parameter, and how it is bound (``*args`` and ``**kwargs`` check each item)."""

    kind: inspect._ParameterKind
    rule: Rule


def compile_rules(func: Callable[..., Any], params: list[inspect.Parameter]) -> dict[str, ParamRule]:
    """The rules of ``params`` (a function's parameters after its context), from its annotations."""
    hints = typing.get_type_hints(func, include_extras=True)
    rules = {}
    for param in params:
        rule = rule_for(hints.get(param.name, inspect.Parameter.empty))
        if rule is not None:
            rules[param.name] = ParamRule(param.kind, rule)
    return rules


def check_arguments(fullname: str, rules: Mapping[str, ParamRule], arguments: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidArgument` for the first bound argument that breaks its rule."""
    for name, value in arguments.items():
        found = rules.get(name)
        if found is None:
            continue
        problems: Iterable[str | None]
        if found.kind is inspect.Parameter.VAR_POSITIONAL:
            problems = (found.rule.problem(v, f"{name}[{i}]") for i, v in enumerate(value))
        elif found.kind is inspect.Parameter.VAR_KEYWORD:
            problems = (found.rule.problem(v, k) for k, v in value.items())
        else:
            problems = iter((found.rule.problem(value, name),))
        problem = next((p for p in problems if p is not None), None)
        if problem is not None:
            raise InvalidArgument(f"{fullname}: {problem}")
