"""Pillar: per-minion data rendered from ``pillar_roots`` with a pillar ``top.sls``.

The master renders it for one minion at a time (that minion's id and grains select the SLS
through the top file) and sends the result in that minion's sealed box only; ``pvc call``
renders it locally the same way. Pillar SLS are Jinja + YAML like state SLS, see the grains
and the pillar merged so far, may ``include`` other pillar SLS, and merge recursively in top
file order (Salt's ``smart``/``recurse`` strategy: mappings merge, anything else is replaced).
Any error is a :class:`PillarError` naming the SLS: a state run refuses to start on a broken
pillar (as Salt does), since states would otherwise run with data missing.

Example::

    render_pillar(FileRoots(["/srv/pillar"]), "hv1", {"os": "Debian"})   # {"ntp": {"servers": [...]}}
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from pvc.states.compile import resolve_include
from pvc.states.errors import StateError
from pvc.states.render import RenderContext, render_sls
from pvc.states.top import parse_top
from pvc.states.tree import StateTree, read_text, sls_candidates

MAX_INCLUDES = 256
TOP = "top.sls"


class PillarError(StateError):
    """The pillar of a minion could not be rendered; the message names the SLS and why."""


def merge(into: dict[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``data`` into ``into`` recursively: nested mappings merge, other values replace.

    >>> merge({"a": {"x": 1}, "l": [1]}, {"a": {"y": 2}, "l": [2]})
    {'a': {'x': 1, 'y': 2}, 'l': [2]}
    """
    for key, value in data.items():
        old = into.get(key)
        if isinstance(old, dict) and isinstance(value, Mapping):
            merge(old, value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value
    return into


def _context(grains: Mapping[str, Any], pillar: Mapping[str, Any], tree: StateTree, saltenv: str,
             minion_id: str) -> RenderContext:
    return RenderContext(grains=grains, pillar=pillar, opts={"id": minion_id}, saltenv=saltenv,
                         sources=lambda path: read_text(tree, path))


def pillar_top(tree: StateTree, minion_id: str, grains: Mapping[str, Any]) -> list[str]:
    """The pillar SLS the top file gives this minion in the tree's environment."""
    text = read_text(tree, TOP)
    if text is None:
        return []
    ctx = _context(grains, {}, tree, tree.saltenv, minion_id)
    top = parse_top(render_sls(text, sls="top", ctx=ctx, tplfile=TOP))
    return top.sls_for(minion_id, grains).get(tree.saltenv, [])


class _Renderer:
    def __init__(self, tree: StateTree, minion_id: str, grains: Mapping[str, Any]) -> None:
        self.tree = tree
        self.minion_id = minion_id
        self.grains = grains
        self.pillar: dict[str, Any] = {}
        self.done: set[str] = set()

    def load(self, sls: str) -> None:
        if sls in self.done:
            return
        self.done.add(sls)
        if len(self.done) > MAX_INCLUDES:
            raise PillarError(f"more than {MAX_INCLUDES} pillar SLS (an include loop?)")
        for path, init in sls_candidates(sls):
            text = read_text(self.tree, path)
            if text is None:
                continue
            ctx = _context(self.grains, self.pillar, self.tree, self.tree.saltenv, self.minion_id)
            data = render_sls(text, sls=sls, ctx=ctx, tplfile=path)
            includes = data.pop("include", [])
            if not isinstance(includes, list):
                raise PillarError(f"pillar SLS '{sls}': include must be a list")
            for name in includes:
                self.load(resolve_include(sls, str(name), init=init))
            merge(self.pillar, data)
            return
        raise PillarError(f"pillar SLS '{sls}' is listed in the pillar top file but does not exist")


def plain(value: Any) -> Any:
    """Pillar as the wire carries it: YAML's dates become ISO text, sets sorted lists, tuples lists.

    >>> import datetime; plain({"d": datetime.date(2026, 1, 2), "s": {2, 1}})
    {'d': '2026-01-02', 's': [1, 2]}
    """
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=repr)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return value


def render_pillar(tree: StateTree, minion_id: str, grains: Mapping[str, Any]) -> dict[str, Any]:
    """The whole pillar of ``minion_id`` (empty without a pillar top file), as plain data."""
    renderer = _Renderer(tree, minion_id, grains)
    try:
        for sls in pillar_top(tree, minion_id, grains):
            renderer.load(sls)
    except PillarError:
        raise
    except StateError as exc:
        raise PillarError(f"pillar for {minion_id}: {exc}") from None
    result: dict[str, Any] = plain(renderer.pillar)
    return result
