"""Nested grain lookup with Salt's ``a:b:c`` keys, and the merge of custom grains.

Shared by ``grains.get`` and anything else that walks grains by a colon path.

Example::

    traverse({"virt_caps": {"kvm": True}}, "virt_caps:kvm")       # True
    traverse({"ipv4": ["127.0.0.1", "10.0.0.5"]}, "ipv4:1")        # "10.0.0.5"
    traverse({}, "virt_caps:kvm", default=False)                   # False
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MISSING = object()


def traverse(data: Any, key: str, default: Any = None, delimiter: str = ":") -> Any:
    """Follow ``key`` through mappings (by name) and lists (by index); ``default`` if it breaks.

    A whole key that exists as written wins first, so a grain whose name contains the
    delimiter stays reachable.
    """
    if isinstance(data, Mapping) and key in data:
        return data[key]
    node = data
    for part in key.split(delimiter):
        node = _step(node, part)
        if node is _MISSING:
            return default
    return node


def _step(node: Any, part: str) -> Any:
    if isinstance(node, Mapping):
        return node.get(part, _MISSING)
    if isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
        return node[int(part)]
    return _MISSING


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` on top of ``base``: mappings merge key by key (recursively), anything else
    in ``overlay`` (a string, a list) replaces the value in ``base``."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
