"""Nested lookup with Salt's colon paths (``virt_caps:kvm``, ``ipv4:0``), for grain targets and
``grains.get``.

Pure and dependency-free, so target matching (on the master too) never imports the grain probes.

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
