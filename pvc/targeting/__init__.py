"""Target expressions: parsed once, matched on the minion, and expanded on the master.

Types (Salt's): ``glob`` (default, on the id), ``pcre`` (``re.match`` on the id, as Salt),
``list`` (comma-separated ids), ``grain`` (``key:sub:value``, value globbed case-insensitively,
list grains match on any item), ``compound`` (``G@``, ``E@``, ``P@``, ``L@``, ``N@`` and bare
globs joined by ``and``/``or``/``not`` and parentheses), ``nodegroup`` (a name from the master
config: a compound string or a list of words, or plain ids). Nodegroups are expanded on the
master, so the ``expr`` of a :class:`Target` can travel to minions, which have none. Compound
expressions compile once into a tree of closures; nothing is ever ``eval``-ed. Length, nesting
and nodegroup expansion are bounded, so a hostile target is an :class:`InvalidTarget`, never a
RecursionError or a stall. Importing this package loads no grain probe (the master uses it).
One file per concern: :mod:`.simple`, :mod:`.compound`, :mod:`.nodegroups`, :mod:`.grainpath`.

Example::

    t = compile_target("G@role:web and not web3", "compound")
    t.matches("web1", {"role": "web"})          # True
    compile_target("a,b", "list").explicit_ids()  # frozenset({"a", "b"}): ZMQ topic filtering
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pvc.errors import InvalidTarget
from pvc.ids import is_valid_minion_id
from pvc.targeting.compound import MAX_DEPTH, Parser
from pvc.targeting.nodegroups import MAX_EXPR, expand_nodegroups, nodegroup
from pvc.targeting.simple import Matcher, ids_of, simple

TARGET_TYPES = ("glob", "pcre", "list", "grain", "compound", "nodegroup")

__all__ = ["MAX_DEPTH", "MAX_EXPR", "TARGET_TYPES", "Target", "compile_target"]


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
        expr, tgt_type = nodegroup(expr.strip(), nodegroups or {}, ()), "compound"
    elif tgt_type == "compound" and "N@" in expr:
        expr = expand_nodegroups(expr, nodegroups or {})
    if tgt_type == "compound":
        parser = Parser(expr)
        matcher = parser.parse()
        ids = frozenset().union(*parser.ids) if parser.only_ids and parser.ids else None
        return Target(tgt_type, expr, matcher, ids)
    matcher = simple(tgt_type, expr)
    if tgt_type == "list":
        return Target(tgt_type, expr, matcher, ids_of(expr))
    if tgt_type == "glob" and not any(c in expr for c in "*?[") and is_valid_minion_id(expr):
        return Target(tgt_type, expr, matcher, frozenset({expr}))  # one exact id: topic-filtered too
    return Target(tgt_type, expr, matcher, None)
