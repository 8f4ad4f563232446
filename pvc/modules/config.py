"""The ``config`` module: one lookup over the minion's options, its grains and its pillar.

Salt's ``config.get`` looks in the minion config, then grains, then pillar. pvc's minion config is
typed, so the free-form options a state tree reads live in the minion config section
``modules: {config: {options: {...}}}``.

Example (Jinja): ``{{ salt['config.get']('ntp:servers', []) }}``
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec
from pvc.modules.dictmerge import update
from pvc.modules.pillar import lookup

_MISSING = object()


@dataclass(frozen=True)
class ConfigOptions:
    options: dict[str, Any] = field(default_factory=dict)


def _options(ctx: ExecContext) -> Mapping[str, Any]:
    return ctx.config.options if isinstance(ctx.config, ConfigOptions) else {}


def get(ctx: ExecContext, key: str, default: Any = "", delimiter: str = ":", merge: str | None = None) -> Any:
    """The first of: minion option, grain, pillar value at ``key``; else ``default``.
    ``merge='recurse'`` merges the mappings found in all three instead (pillar wins).

    Example: ``salt['config.get']('sysctl:params', {})``
    """
    sources = (_options(ctx), ctx.grains, ctx.pillar)
    found = [v for v in (lookup(s, key, _MISSING, False, delimiter) for s in sources) if v is not _MISSING]
    if not found:
        return default
    if merge in ("recurse", "overwrite") and all(isinstance(v, Mapping) for v in found):
        out: dict[str, Any] = {}
        for value in found:
            if merge == "recurse":
                update(out, value)
            else:
                out.update(value)
        return out
    return found[0]


def option(ctx: ExecContext, key: str, default: Any = "", delimiter: str = ":") -> Any:
    """A minion option only (no grains or pillar)."""
    return lookup(_options(ctx), key, default, False, delimiter)


SPEC = ModuleSpec("config", functions=(get, option), config=ConfigOptions, inline=("get", "option"))
