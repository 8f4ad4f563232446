"""The ``slsutil`` module: merge and serialize data inside templates, as Salt's does.

Example (Jinja)::

    {% set cfg = salt['slsutil.merge'](defaults, pillar_cfg, strategy='smart', merge_lists=True) %}
    {{ salt['slsutil.serialize']('json', cfg) }}
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import yaml

from pvc.errors import InvalidArgument
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec
from pvc.modules.dictmerge import update

STRATEGIES = ("smart", "recurse", "aggregate", "overwrite", "list")


def merge(ctx: ExecContext, obj_a: dict[Any, Any], obj_b: Mapping[Any, Any], strategy: str = "smart",
          renderer: str = "yaml", merge_lists: bool = False) -> dict[Any, Any]:
    """``obj_b`` merged onto a copy of ``obj_a``. ``smart``/``recurse``/``aggregate``: nested
    mappings merge key by key; ``overwrite``: top-level keys of ``obj_b`` replace; ``list``:
    like recurse with lists concatenated.

    Example: ``salt['slsutil.merge']({'a': [1]}, {'a': [2]}, merge_lists=True)`` -> ``{'a': [1, 2]}``
    """
    if strategy not in STRATEGIES:
        raise InvalidArgument(f"slsutil.merge: strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    out = copy.deepcopy(obj_a)
    if strategy == "overwrite":
        out.update(copy.deepcopy(dict(obj_b)))
        return out
    return dict(update(out, copy.deepcopy(dict(obj_b)), merge_lists or strategy == "list"))


def merge_all(ctx: ExecContext, lst: list[dict[Any, Any]], strategy: str = "smart", renderer: str = "yaml",
              merge_lists: bool = False) -> dict[Any, Any]:
    """Every mapping of ``lst`` merged in order (later ones win)."""
    out: dict[Any, Any] = {}
    for item in lst:
        out = merge(ctx, out, item, strategy, renderer, merge_lists)
    return out


def serialize(ctx: ExecContext, serializer: str, obj: Any, **options: Any) -> str:
    """``obj`` as ``yaml`` (block style) or ``json`` text.

    Example: ``salt['slsutil.serialize']('json', {'a': 1})`` -> ``'{"a": 1}'``
    """
    if serializer == "json":
        return json.dumps(obj, sort_keys=bool(options.get("sort_keys", False)), indent=options.get("indent"))
    if serializer == "yaml":
        return str(yaml.safe_dump(obj, default_flow_style=bool(options.get("default_flow_style", False))))
    raise InvalidArgument(f"slsutil.serialize: serializer must be 'yaml' or 'json', not {serializer!r}")


def deserialize(ctx: ExecContext, serializer: str, stream_or_string: str) -> Any:
    """Parse ``yaml`` (safely) or ``json`` text."""
    if serializer == "json":
        return json.loads(stream_or_string)
    if serializer == "yaml":
        return yaml.safe_load(stream_or_string)
    raise InvalidArgument(f"slsutil.deserialize: serializer must be 'yaml' or 'json', not {serializer!r}")


SPEC = ModuleSpec("slsutil", functions=(merge, merge_all, serialize, deserialize),
                  inline=("merge", "merge_all", "serialize", "deserialize"))
