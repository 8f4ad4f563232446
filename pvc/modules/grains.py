"""The ``grains`` module: read the facts this minion collected at start-up (see :mod:`pvc.grains`).

Grains are collected once, when the minion starts, and are what grain targets (``-G``) match
against; these functions read them from the context, they never probe again.

Example: ``pvc run -G virt:kvm grains.get virt_caps:libvirt_version``
"""

from __future__ import annotations

import copy
import fnmatch
from typing import Any

from pvc.errors import InvalidArgument
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec
from pvc.modules.dictmerge import update
from pvc.targeting.grainpath import traverse


def items(ctx: ExecContext) -> dict[str, Any]:
    """Return all grains.

    Example: ``pvc call grains.items``
    """
    return copy.deepcopy(dict(ctx.grains))


def get(ctx: ExecContext, key: str, default: Any = "", delimiter: str = ":") -> Any:
    """Return grain ``key``; ``a:b`` walks into nested mappings and lists (``ipv4:0``).
    ``default`` (Salt's: an empty string) if the grain does not exist.

    Example: ``pvc run '*' grains.get virt_caps:kvm``
    """
    if not key:
        raise InvalidArgument("grains.get: key must be a non-empty grain name, e.g. os or virt_caps:kvm")
    if not delimiter:
        raise InvalidArgument("grains.get: delimiter must be a non-empty string")
    return copy.deepcopy(traverse(ctx.grains, key, default, delimiter))


def item(ctx: ExecContext, *keys: str) -> dict[str, Any]:
    """Return ``{key: value}`` for the named top-level grains that exist.

    Example: ``pvc run '*' grains.item os osrelease mem_total``
    """
    return {k: copy.deepcopy(ctx.grains[k]) for k in keys if k in ctx.grains}


def filter_by(ctx: ExecContext, lookup_dict: dict[Any, Any], grain: str = "os_family", merge: dict[Any, Any] | None = None,
              default: str = "default", base: str | None = None) -> Any:
    """Pick the entry of ``lookup_dict`` whose key matches grain ``grain`` (keys may be globs; a
    list grain tries each item), else the ``default`` entry; then merge it onto the ``base``
    entry and merge ``merge`` onto it (Salt's map.jinja idiom).

    Example: ``salt['grains.filter_by']({'Debian': {'pkg': 'ntp'}, 'default': {}}, merge=pillar_ntp)``
    """
    value = traverse(ctx.grains, grain, [], ":")
    found = None
    for each in value if isinstance(value, list) else [value]:
        found = next((lookup_dict[k] for k in lookup_dict if fnmatch.fnmatchcase(str(each), str(k))), None)
        if found is not None:
            break
    if found is None:
        found = lookup_dict.get(default)
    found = copy.deepcopy(found)
    if base and base in lookup_dict:
        base_values = copy.deepcopy(lookup_dict[base])
        if found is None:
            found = base_values
        elif isinstance(base_values, dict):
            if not isinstance(found, dict):
                raise InvalidArgument(f"grains.filter_by: the base entry {base!r} and the match must both be mappings")
            found = update(base_values, found)
    if merge:
        if not isinstance(merge, dict):
            raise InvalidArgument("grains.filter_by: merge must be a mapping")
        found = copy.deepcopy(merge) if found is None else update(found, copy.deepcopy(merge))
    return found


def ls(ctx: ExecContext) -> list[str]:
    """Return the sorted names of all grains.

    Example: ``pvc call grains.ls``
    """
    return sorted(ctx.grains)


SPEC = ModuleSpec(
    "grains",
    functions=(items, get, item, filter_by, ls),
)
