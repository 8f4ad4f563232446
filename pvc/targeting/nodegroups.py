"""Nodegroups (named targets from the master config), expanded on the master into compound text.

A group is a compound string or a list of words (``[G@os:Debian, and, web*]``), as in Salt; a
group of plain ids becomes a list target (topic-filtered). Self-reference and exponential growth
are refused.

Example::

    nodegroup("web", {"web": "G@role:web"}, ())     # "G@role:web"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pvc.errors import InvalidTarget
from pvc.ids import is_valid_minion_id
from pvc.targeting.compound import OPERATORS, tokens

MAX_EXPR = 8192


def expand_nodegroups(expr: str, nodegroups: Mapping[str, Any], seen: tuple[str, ...] = ()) -> str:
    """Replace every ``N@name`` by ``( <the group's compound expression> )``."""
    out = []
    for tok in tokens(expr):
        if tok.startswith("N@"):
            out.append(f"( {nodegroup(tok[2:], nodegroups, seen)} )")
        else:
            out.append(tok)
    expanded = " ".join(out)
    if len(expanded) > MAX_EXPR:  # groups that name other groups twice grow exponentially
        what = f"nodegroup '{seen[-1]}'" if seen else "the target"
        raise InvalidTarget(f"{what} expands to more than {MAX_EXPR} characters")
    return expanded


def nodegroup(name: str, nodegroups: Mapping[str, Any], seen: tuple[str, ...]) -> str:
    if name in seen:
        raise InvalidTarget(f"nodegroup '{name}' refers to itself ({' -> '.join((*seen, name))})")
    if name not in nodegroups:
        known = ", ".join(sorted(nodegroups)) or "none configured"
        raise InvalidTarget(f"unknown nodegroup '{name}' (known: {known})")
    return expand_nodegroups(_group_expr(name, nodegroups[name]), nodegroups, (*seen, name))


def _group_expr(name: str, value: Any) -> str:
    """A nodegroup definition as a compound expression. As in Salt, it is a string or a list
    of words (``[G@os:Debian, and, web*]``); one made only of plain minion ids (``web1,web2``,
    ``[web1, web2]``) becomes a list target, so jobs to it are topic-filtered."""
    if isinstance(value, (list, tuple)):
        value = " ".join(str(word) for word in value)
    if not isinstance(value, str):
        raise InvalidTarget(f"nodegroup '{name}' must be a string or a list, not {type(value).__name__}")
    words = tokens(value)
    if not words:
        raise InvalidTarget(f"nodegroup '{name}' is empty")
    ids = [i for word in words for i in word.split(",") if i]
    if OPERATORS.isdisjoint(words) and all(is_valid_minion_id(i) for i in ids):
        return "L@" + ",".join(ids)
    return " ".join(words)
