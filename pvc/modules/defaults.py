"""The ``defaults`` module: merge a formula's defaults with overrides (map.jinja's workhorse).

Example (Jinja)::

    {% set settings = salt['defaults.merge'](defaults, salt['pillar.get']('ntp', {}), in_place=False) %}
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec
from pvc.modules.dictmerge import update


def merge(ctx: ExecContext, dest: dict[Any, Any], src: Mapping[Any, Any], merge_lists: bool = False,
          in_place: bool = True) -> dict[Any, Any]:
    """``src`` merged recursively into ``dest`` (``src`` wins); ``in_place=False`` leaves
    ``dest`` untouched and returns a new mapping.

    Example: ``salt['defaults.merge']({'a': {'x': 1}}, {'a': {'y': 2}})`` -> ``{'a': {'x': 1, 'y': 2}}``
    """
    target = dest if in_place else copy.deepcopy(dest)
    return dict(update(target, copy.deepcopy(dict(src)), merge_lists))


def deepcopy(ctx: ExecContext, source: Any) -> Any:
    """A deep copy of ``source`` (so a template can change it without touching the original)."""
    return copy.deepcopy(source)


def update_(ctx: ExecContext, dest: dict[Any, Any], defaults: Mapping[Any, Any], merge_lists: bool = True,
            in_place: bool = True) -> dict[Any, Any]:
    """Fill what ``dest`` lacks from ``defaults`` (``dest`` wins): Salt's ``defaults.update``."""
    merged = update(copy.deepcopy(dict(defaults)), copy.deepcopy(dest), merge_lists)
    if in_place:
        dest.clear()
        dest.update(merged)
        return dest
    return dict(merged)


SPEC = ModuleSpec("defaults", functions=(merge, deepcopy, update_), inline=("merge", "deepcopy", "update"))
