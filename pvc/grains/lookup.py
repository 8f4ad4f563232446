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

    At each level the longest matching name wins, so a key that itself contains the delimiter
    (an IPv6 address, ``a:b``) stays reachable.
    """
    found = _walk(data, key.split(delimiter), delimiter)
    return default if found is _MISSING else found


def _walk(node: Any, parts: list[str], delimiter: str) -> Any:
    if not parts:
        return node
    if isinstance(node, Mapping):
        for cut in range(len(parts), 0, -1):
            name = delimiter.join(parts[:cut])
            if name in node:
                found = _walk(node[name], parts[cut:], delimiter)
                if found is not _MISSING:
                    return found
        return _MISSING
    head = parts[0]
    if isinstance(node, list) and head.lstrip("-").isdigit() and -len(node) <= int(head) < len(node):
        return _walk(node[int(head)], parts[1:], delimiter)
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


def plain(value: Any) -> Any:
    """A deep copy built of dicts and lists only. Config mappings are read-only proxies, which
    neither ``copy.deepcopy`` nor msgpack accept; grains must travel on the wire."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
