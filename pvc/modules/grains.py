"""The ``grains`` module: read the facts this minion collected at start-up (see :mod:`pvc.grains`).

Grains are collected once, when the minion starts, and are what grain targets (``-G``) match
against; these functions read them from the context, they never probe again.

Example: ``pvc run -G virt:kvm grains.get virt_caps:libvirt_version``
"""

from __future__ import annotations

import copy
from typing import Any

from pvc.errors import InvalidArgument
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec
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


def ls(ctx: ExecContext) -> list[str]:
    """Return the sorted names of all grains.

    Example: ``pvc call grains.ls``
    """
    return sorted(ctx.grains)


SPEC = ModuleSpec(
    "grains",
    functions=(items, get, item, ls),
)
