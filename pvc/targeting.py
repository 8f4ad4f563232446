"""Target expressions: parsed once, matched on the minion, and expanded on the master.

Types (Salt's): ``glob`` (default, on the id), ``pcre`` (``re.match`` on the id, as Salt),
``list`` (comma-separated ids), ``grain`` (``key:sub:value``, value globbed case-insensitively,
list grains match on any item), ``compound`` (``G@``, ``E@``, ``P@``, ``L@``, ``N@`` and bare
globs joined by ``and``/``or``/``not`` and parentheses), ``nodegroup`` (a name from the master
config). Nodegroups are expanded on the master, so a :class:`Target` that travels to minions
never needs them. Compound expressions compile to a small AST; nothing is ever ``eval``-ed.

Example::

    t = compile_target("G@role:web and not web3", "compound")
    t.matches("web1", {"role": "web"})          # True
    compile_target("a,b", "list").explicit_ids()  # frozenset({"a", "b"}): ZMQ topic filtering
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pvc.errors import InvalidMinionId, InvalidTarget
from pvc.grains.lookup import traverse
from pvc.ids import is_valid_minion_id, validate_minion_id

TARGET_TYPES = ("glob", "pcre", "list", "grain", "compound", "nodegroup")
MAX_EXPR = 8192
MAX_DEPTH = 32
_MISSING = object()

Matcher = Callable[[str, Mapping[str, Any]], bool]


@lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise InvalidTarget(f"'{pattern}' is not a valid regular expression: {exc}") from None


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def _ids(text: str) -> frozenset[str]:
    ids = [p.strip() for p in text.split(",") if p.strip()]
    if not ids:
        raise InvalidTarget("a list target needs at least one minion id")
    try:
        return frozenset(validate_minion_id(i) for i in ids)
    except InvalidMinionId as exc:
        raise InvalidTarget(f"list target: {exc}") from None


def _grain_value_matches(value: Any, pattern: str, regex: bool) -> bool:
    if isinstance(value, list):
        return any(_grain_value_matches(v, pattern, regex) for v in value)
    if isinstance(value, Mapping):
        return pattern in value
    text = str(value).lower()
    if regex:
        return _regex(pattern).match(str(value)) is not None
    return _glob(pattern.lower()).match(text) is not None


def _grain_matcher(expr: str, regex: bool) -> Matcher:
    parts = expr.split(":")
    if len(parts) < 2 or not parts[0]:
        raise InvalidTarget(f"grain target '{expr}' must look like key:value (e.g. os:Debian)")
    if regex:
        _regex(parts[-1])

    def match(mid: str, grains: Mapping[str, Any]) -> bool:
        for cut in range(len(parts) - 1, 0, -1):  # longest key path first, like Salt
            value = traverse(grains, ":".join(parts[:cut]), _MISSING)
            if value is not _MISSING:
                return _grain_value_matches(value, ":".join(parts[cut:]), regex)
        return False

    return match


def _simple(tgt_type: str, expr: str) -> Matcher:
    if tgt_type == "glob":
        rx = _glob(expr)
        return lambda mid, grains: rx.match(mid) is not None
    if tgt_type == "pcre":
        rx = _regex(expr)
        return lambda mid, grains: rx.match(mid) is not None
    if tgt_type == "list":
        ids = _ids(expr)
        return lambda mid, grains: mid in ids
    if tgt_type == "grain":
        return _grain_matcher(expr, regex=False)
    if tgt_type == "grain_pcre":
        return _grain_matcher(expr, regex=True)
    raise InvalidTarget(f"unknown target type '{tgt_type}'")


_PREFIXES = {"G": "grain", "E": "pcre", "L": "list", "P": "grain_pcre"}
_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


def _tokens(expr: str) -> list[str]:
    pos, out = 0, []
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            break
        out.append(m.group(1))
        pos = m.end()
    return out


class _Parser:
    """Recursive descent: or_expr := and_expr ('or' and_expr)*; and_expr := not_expr ('and'
    not_expr)*; not_expr := 'not' not_expr | '(' or_expr ')' | word."""

    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.toks = _tokens(expr)
        self.pos = 0
        self.depth = 0
        self.ids: list[frozenset[str]] = []
        self.only_ids = True

    def parse(self) -> Matcher:
        if not self.toks:
            raise InvalidTarget("compound target is empty")
        node = self._or()
        if self.pos != len(self.toks):
            raise InvalidTarget(f"compound target '{self.expr}': unexpected '{self.toks[self.pos]}'")
        return node

    def _peek(self) -> str | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def _or(self) -> Matcher:
        parts = [self._and()]
        while self._peek() == "or":
            self.pos += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda mid, g: any(p(mid, g) for p in parts))

    def _and(self) -> Matcher:
        parts = [self._not()]
        while self._peek() == "and":
            self.pos += 1
            self.only_ids = False
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else (lambda mid, g: all(p(mid, g) for p in parts))

    def _not(self) -> Matcher:
        tok = self._peek()
        if tok is None:
            raise InvalidTarget(f"compound target '{self.expr}' ends too early")
        self.pos += 1
        if tok == "not":
            self.only_ids = False
            inner = self._not()
            return lambda mid, g: not inner(mid, g)
        if tok == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise InvalidTarget("compound target is nested too deeply")
            inner = self._or()
            if self._peek() != ")":
                raise InvalidTarget(f"compound target '{self.expr}': missing ')'")
            self.pos += 1
            self.depth -= 1
            return inner
        if tok in (")", "and", "or"):
            raise InvalidTarget(f"compound target '{self.expr}': unexpected '{tok}'")
        return self._word(tok)

    def _word(self, tok: str) -> Matcher:
        if len(tok) > 2 and tok[1] == "@":
            kind = _PREFIXES.get(tok[0])
            if kind is None:
                raise InvalidTarget(f"compound target: unknown prefix '{tok[:2]}' "
                                    "(use G@, E@, P@, L@ or N@ for nodegroups on the master)")
            if kind == "list":
                self.ids.append(_ids(tok[2:]))
            else:
                self.only_ids = False
            return _simple(kind, tok[2:])
        if any(c in tok for c in "*?["):
            self.only_ids = False
        else:
            try:
                self.ids.append(frozenset({validate_minion_id(tok)}))
            except InvalidMinionId:
                self.only_ids = False
        return _simple("glob", tok)


def _expand_nodegroups(expr: str, nodegroups: Mapping[str, Any], seen: tuple[str, ...] = ()) -> str:
    """Replace every ``N@name`` by ``( <the group's compound expression> )``."""
    out = []
    for tok in _tokens(expr):
        if tok.startswith("N@"):
            out.append(f"( {_nodegroup(tok[2:], nodegroups, seen)} )")
        else:
            out.append(tok)
    return " ".join(out)


def _nodegroup(name: str, nodegroups: Mapping[str, Any], seen: tuple[str, ...]) -> str:
    if name in seen:
        raise InvalidTarget(f"nodegroup '{name}' refers to itself ({' -> '.join((*seen, name))})")
    if name not in nodegroups:
        known = ", ".join(sorted(nodegroups)) or "none configured"
        raise InvalidTarget(f"unknown nodegroup '{name}' (known: {known})")
    value = nodegroups[name]
    if isinstance(value, (list, tuple)):
        value = "L@" + ",".join(str(v) for v in value)
    return _expand_nodegroups(str(value), nodegroups, (*seen, name))


@dataclass(frozen=True)
class Target:
    tgt_type: str
    expr: str
    _match: Matcher = field(repr=False, compare=False)
    _ids: frozenset[str] | None = field(repr=False, compare=False)

    def matches(self, minion_id: str, grains: Mapping[str, Any]) -> bool:
        return self._match(minion_id, grains)

    def explicit_ids(self) -> frozenset[str] | None:
        """The exact ids of a pure list target (or a compound of ids joined by ``or``)."""
        return self._ids

    def expected(self, candidates: Mapping[str, Mapping[str, Any]]) -> list[str]:
        if self._ids is not None:
            return sorted(self._ids & candidates.keys())
        return sorted(mid for mid, grains in candidates.items() if self._match(mid, grains))


def compile_target(expr: str | Iterable[str], tgt_type: str = "glob",
                   nodegroups: Mapping[str, Any] | None = None) -> Target:
    """Validate and compile ``expr``; raises :class:`InvalidTarget` with a clear message."""
    if tgt_type not in TARGET_TYPES:
        raise InvalidTarget(f"unknown target type '{tgt_type}' (use one of {', '.join(TARGET_TYPES)})")
    if not isinstance(expr, str):
        expr, tgt_type = ",".join(expr), "list"
    if not expr.strip():
        raise InvalidTarget("the target expression is empty")
    if len(expr) > MAX_EXPR:
        raise InvalidTarget(f"the target expression is longer than {MAX_EXPR} characters")
    if tgt_type == "nodegroup":
        expr, tgt_type = _nodegroup(expr.strip(), nodegroups or {}, ()), "compound"
    elif tgt_type == "compound" and "N@" in expr:
        expr = _expand_nodegroups(expr, nodegroups or {})
    if tgt_type == "compound":
        parser = _Parser(expr)
        matcher = parser.parse()
        ids = frozenset().union(*parser.ids) if parser.only_ids and parser.ids else None
        return Target(tgt_type, expr, matcher, ids)
    matcher = _simple(tgt_type, expr)
    if tgt_type == "list":
        return Target(tgt_type, expr, matcher, _ids(expr))
    if tgt_type == "glob" and not any(c in expr for c in "*?[") and is_valid_minion_id(expr):
        return Target(tgt_type, expr, matcher, frozenset({expr}))  # one exact id: topic-filtered too
    return Target(tgt_type, expr, matcher, None)
