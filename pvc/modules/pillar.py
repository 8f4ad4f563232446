"""The ``pillar`` module: read the pillar of the state run (rendered by the master for this minion).

Outside a state run the pillar is empty. Keys walk nested data with ``:`` (``ntp:servers:0``).

Example (Jinja): ``{{ salt['pillar.get']('ntp:servers', ['pool.ntp.org']) }}``
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pvc.errors import InvalidArgument
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec
from pvc.modules.dictmerge import update
from pvc.targeting.grainpath import traverse

_MISSING = object()  # never handed out: a caller's own sentinel default comes back as is


def lookup(data: Mapping[str, Any], key: str, default: Any, merge: bool, delimiter: str,
           merge_lists: bool = False) -> Any:
    """Salt's ``pillar.get``/``config.get`` lookup: the value at ``key``, else ``default``;
    with ``merge`` a mapping value is merged onto a mapping default (the value wins)."""
    if not delimiter:
        raise InvalidArgument("delimiter must be a non-empty string")
    found = traverse(data, key, _MISSING, delimiter)
    if found is _MISSING:
        return copy.deepcopy(default) if isinstance(default, dict | list) else default
    if merge and isinstance(default, Mapping) and isinstance(found, Mapping):
        return update(copy.deepcopy(dict(default)), copy.deepcopy(dict(found)), merge_lists)
    if merge and merge_lists and isinstance(default, list) and isinstance(found, list):
        return [*default, *(item for item in found if item not in default)]
    return copy.deepcopy(found)


def get(ctx: ExecContext, key: str, default: Any = "", merge: bool = False, merge_nested_lists: bool = False,
        delimiter: str = ":") -> Any:
    """Pillar value ``key`` (``a:b`` walks nested data), or ``default`` (Salt's: '').

    Example: ``salt['pillar.get']('users', {}, merge=True)``
    """
    return lookup(ctx.pillar, key, default, merge, delimiter, merge_nested_lists)


def items(ctx: ExecContext) -> dict[str, Any]:
    """The whole pillar of this run."""
    return copy.deepcopy(dict(ctx.pillar))


def item(ctx: ExecContext, *keys: str, default: Any = "", delimiter: str = ":") -> dict[str, Any]:
    """``{key: value}`` for each key (missing ones get ``default``)."""
    return {key: lookup(ctx.pillar, key, default, False, delimiter) for key in keys}


SPEC = ModuleSpec("pillar", functions=(get, items, item), inline=("get", "items", "item"))
