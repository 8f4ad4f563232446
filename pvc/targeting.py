"""Target expressions: parsed once, matched on the minion, and expanded on the master.

Types (Salt's): ``glob`` (default, on the id), ``pcre`` (``re.match`` on the id, as Salt),
``list`` (comma-separated ids), ``grain`` (``key:sub:value``, value globbed case-insensitively,
list grains match on any item), ``compound`` (``G@``, ``E@``, ``P@``, ``L@``, ``N@`` and bare
globs joined by ``and``/``or``/``not`` and parentheses), ``nodegroup`` (a name from the master
config: a compound string or a list of words, or plain ids). Nodegroups are expanded on the
master, so the ``expr`` of a :class:`Target` can travel to minions, which have none. Compound
expressions compile once into a tree of closures; nothing is ever ``eval``-ed. Length, nesting
and nodegroup expansion are bounded, so a hostile target is an :class:`InvalidTarget`, never a
RecursionError or a stall.

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
def _regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise InvalidTarget(f"'{pattern}' is not a valid regular expression: {exc}") from None


def _glob(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return _regex(fnmatch.translate(pattern), flags)


def _ids(text: str) -> frozenset[str]:
    ids = [p.strip() for p in text.split(",") if p.strip()]
    if not ids:
        raise InvalidTarget("a list target needs at least one minion id")
    try:
        return frozenset(validate_minion_id(i) for i in ids)
    except InvalidMinionId as exc:
        raise InvalidTarget(f"list target: {exc}") from None


def _grain_value_matches(value: Any, pattern: str, rx: re.Pattern[str]) -> bool:
    if isinstance(value, list):
        return any(_grain_value_matches(v, pattern, rx) for v in value)
    if isinstance(value, Mapping):
        return pattern == "*" or pattern in value  # Salt: naming a key of a mapping grain matches
    return rx.match(str(value)) is not None


def _grain_cuts(parts: list[str], regex: bool) -> list[tuple[str, str, re.Pattern[str]]]:
    """Every (key, pattern) split of the colons whose pattern compiles; values are compared
    case-insensitively, as Salt does."""
    cuts, error = [], None
    for cut in range(1, len(parts)):
        key, pattern = ":".join(parts[:cut]), ":".join(parts[cut:])
        try:
            rx = _regex(pattern, re.IGNORECASE) if regex else _glob(pattern, re.IGNORECASE)
        except InvalidTarget as exc:
            error = exc
            continue
        cuts.append((key, pattern, rx))
    if not cuts and error is not None:
        raise error
    return cuts


def _grain_matcher(expr: str, regex: bool) -> Matcher:
    """``key:sub:value``; like Salt, every split of the colons is tried (``ipv6:::1`` finds
    ``::1`` in the ``ipv6`` list) and any one that matches is enough."""
    parts = expr.split(":")
    if len(parts) < 2 or not parts[0]:
        raise InvalidTarget(f"grain target '{expr}' must look like key:value (e.g. os:Debian)")
    cuts = _grain_cuts(parts, regex)

    def match(mid: str, grains: Mapping[str, Any]) -> bool:
        for key, pattern, rx in cuts:
            value = traverse(grains, key, _MISSING)
            if value is not _MISSING and _grain_value_matches(value, pattern, rx):
                return True
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
_TOKEN = re.compile(r"\(|\)|[^\s()]+")
_OPERATORS = frozenset({"and", "or", "not", "(", ")"})


def _tokens(expr: str) -> list[str]:
    return _TOKEN.findall(expr)


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
            negated = self._nested(self._not)
            return lambda mid, g: not negated(mid, g)
        if tok == "(":
            inner = self._nested(self._or)
            if self._peek() != ")":
                raise InvalidTarget(f"compound target '{self.expr}': missing ')'")
            self.pos += 1
            return inner
        if tok in (")", "and", "or"):
            raise InvalidTarget(f"compound target '{self.expr}': unexpected '{tok}'")
        return self._word(tok)

    def _nested(self, parse: Callable[[], Matcher]) -> Matcher:
        """Bound the recursion (``not not ...``, ``((...))``): a deep target is bad input,
        not a RecursionError in the master or a minion."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidTarget(f"compound target is nested more than {MAX_DEPTH} levels deep")
        node = parse()
        self.depth -= 1
        return node

    def _word(self, tok: str) -> Matcher:
        if len(tok) >= 2 and tok[1] == "@":
            kind = _PREFIXES.get(tok[0])
            if kind is None:
                raise InvalidTarget(f"compound target: unknown prefix '{tok[:2]}' "
                                    "(use G@, E@, P@, L@ or N@ for nodegroups on the master)")
            if len(tok) == 2:
                raise InvalidTarget(f"compound target: '{tok}' needs an expression after the '@'")
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
    expanded = " ".join(out)
    if len(expanded) > MAX_EXPR:  # groups that name other groups twice grow exponentially
        what = f"nodegroup '{seen[-1]}'" if seen else "the target"
        raise InvalidTarget(f"{what} expands to more than {MAX_EXPR} characters")
    return expanded


def _nodegroup(name: str, nodegroups: Mapping[str, Any], seen: tuple[str, ...]) -> str:
    if name in seen:
        raise InvalidTarget(f"nodegroup '{name}' refers to itself ({' -> '.join((*seen, name))})")
    if name not in nodegroups:
        known = ", ".join(sorted(nodegroups)) or "none configured"
        raise InvalidTarget(f"unknown nodegroup '{name}' (known: {known})")
    return _expand_nodegroups(_group_expr(name, nodegroups[name]), nodegroups, (*seen, name))


def _group_expr(name: str, value: Any) -> str:
    """A nodegroup definition as a compound expression. As in Salt, it is a string or a list
    of words (``[G@os:Debian, and, web*]``); one made only of plain minion ids (``web1,web2``,
    ``[web1, web2]``) becomes a list target, so jobs to it are topic-filtered."""
    if isinstance(value, (list, tuple)):
        value = " ".join(str(word) for word in value)
    if not isinstance(value, str):
        raise InvalidTarget(f"nodegroup '{name}' must be a string or a list, not {type(value).__name__}")
    words = _tokens(value)
    if not words:
        raise InvalidTarget(f"nodegroup '{name}' is empty")
    ids = [i for word in words for i in word.split(",") if i]
    if _OPERATORS.isdisjoint(words) and all(is_valid_minion_id(i) for i in ids):
        return "L@" + ",".join(ids)
    return " ".join(words)


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
