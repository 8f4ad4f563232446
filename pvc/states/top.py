"""``top.sls``: which SLS each minion gets, per environment, with Salt's matchers.

A top file maps environments to target expressions to SLS lists. An entry's list may hold
``match: <type>`` (``glob`` by default, ``pcre``, ``list``, ``grain``, ``grain_pcre``,
``compound``) -- matched by :mod:`pvc.targeting`, the same code as job targets. The same parser
serves the state top (evaluated on the minion) and the pillar top (evaluated on the master for
each minion).

Example::

    top = parse_top({"base": {"*": ["common"], "os:Debian": [{"match": "grain"}, "debian"]}})
    top.sls_for("hv1", {"os": "Debian"})          # {'base': ['common', 'debian']}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pvc.errors import InvalidTarget
from pvc.states.errors import StateError
from pvc.targeting import MAX_EXPR, Target, compile_target
from pvc.targeting.simple import simple

MATCHERS = ("glob", "pcre", "list", "grain", "grain_pcre", "compound")


class TopError(StateError, ValueError):
    """A top file of the wrong shape or with a bad matcher; names the entry."""


@dataclass(frozen=True)
class TopEntry:
    saltenv: str
    expr: str
    match: str
    sls: tuple[str, ...]
    target: Target

    def matches(self, minion_id: str, grains: Mapping[str, Any]) -> bool:
        return self.target.matches(minion_id, grains)


@dataclass(frozen=True)
class Top:
    entries: tuple[TopEntry, ...]

    def sls_for(self, minion_id: str, grains: Mapping[str, Any]) -> dict[str, list[str]]:
        """Per environment, the SLS of every matching entry in top-file order, each once."""
        out: dict[str, list[str]] = {}
        for entry in self.entries:
            if entry.matches(minion_id, grains):
                names = out.setdefault(entry.saltenv, [])
                names.extend(s for s in entry.sls if s not in names)
        return out

    def to_data(self) -> dict[str, dict[str, list[Any]]]:
        """Salt's ``state.show_top``-like view: env -> expr -> [match?, sls...]."""
        out: dict[str, dict[str, list[Any]]] = {}
        for e in self.entries:
            head: list[Any] = [] if e.match == "glob" else [{"match": e.match}]
            out.setdefault(e.saltenv, {})[e.expr] = head + list(e.sls)
        return out


def _target(expr: str, match: str) -> Target:
    if match == "grain_pcre":  # a matcher of top files only (jobs say -C 'P@...'): the targeting code's own
        if not expr.strip() or len(expr) > MAX_EXPR:
            raise InvalidTarget("the target expression is empty or too long")
        return Target(match, expr, simple(match, expr), None)
    return compile_target(expr, match)


def _entry(saltenv: str, expr: Any, items: Any) -> TopEntry:
    where = f"top file: {saltenv}: {str(expr)[:80]!r}"
    if not isinstance(expr, str) or not isinstance(items, list):
        raise TopError(f"{where}: each target must map to a list of SLS names")
    match = "glob"
    sls: list[str] = []
    for item in items:
        if isinstance(item, dict) and set(item) == {"match"}:
            match = str(item["match"])
        elif isinstance(item, str):
            sls.append(item)
        elif isinstance(item, dict):
            continue  # other options Salt allows there (e.g. ignore_missing) change nothing here
        else:
            raise TopError(f"{where}: {item!r} is not an SLS name")
    if match not in MATCHERS:
        raise TopError(f"{where}: unknown matcher {match!r} (use one of {', '.join(MATCHERS)})")
    try:
        target = _target(expr, match)
    except InvalidTarget as exc:
        raise TopError(f"{where}: {exc}") from None
    return TopEntry(saltenv, expr, match, tuple(sls), target)


def parse_top(data: Any) -> Top:
    """Rendered top data -> :class:`Top`; an empty file is an empty top."""
    if data is None:
        return Top(())
    if not isinstance(data, dict):
        raise TopError("top file must be a mapping of environments")
    entries: list[TopEntry] = []
    for saltenv, targets in data.items():
        if not isinstance(targets, dict):
            raise TopError(f"top file: environment {saltenv!r} must map targets to SLS lists")
        entries.extend(_entry(str(saltenv), expr, items) for expr, items in targets.items())
    return Top(tuple(entries))
