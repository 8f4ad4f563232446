"""Compound targets (``G@role:web and not web3``): tokens, a recursive-descent parser, closures.

Nothing is ``eval``-ed; nesting is bounded (:data:`MAX_DEPTH`), so a hostile target is an
:class:`~pvc.errors.InvalidTarget`, never a RecursionError.

Example::

    parser = Parser("G@role:web and not web3")
    parser.parse()("web1", {"role": "web"})     # True
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pvc.errors import InvalidMinionId, InvalidTarget
from pvc.ids import validate_minion_id
from pvc.targeting.simple import Matcher, ids_of, simple

MAX_DEPTH = 32

_PREFIXES = {"G": "grain", "E": "pcre", "L": "list", "P": "grain_pcre"}
_TOKEN = re.compile(r"\(|\)|[^\s()]+")
OPERATORS = frozenset({"and", "or", "not", "(", ")"})


def tokens(expr: str) -> list[str]:
    return _TOKEN.findall(expr)


class Parser:
    """Recursive descent: or_expr := and_expr ('or' and_expr)*; and_expr := not_expr ('and'
    not_expr)*; not_expr := 'not' not_expr | '(' or_expr ')' | word."""

    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.toks = tokens(expr)
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
                self.ids.append(ids_of(tok[2:]))
            else:
                self.only_ids = False
            return simple(kind, tok[2:])
        if any(c in tok for c in "*?["):
            self.only_ids = False
        else:
            try:
                self.ids.append(frozenset({validate_minion_id(tok)}))
            except InvalidMinionId:
                self.only_ids = False
        return simple("glob", tok)
