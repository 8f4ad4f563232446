"""JSON text for args, kwargs and returns, which arrive as msgpack data from minions.

Module functions return JSON-able data by contract, so the fast path is plain ``json.dumps``.
A return that is not (bytes, bytes map keys, nesting deeper than the JSON encoder's recursion
limit: all possible from msgpack) must still be stored, or one bad return would fail its
whole batch again and again; it is stored as a plain copy: bytes as UTF-8 text (undecodable
bytes replaced), keys as strings, anything nested deeper than :data:`MAX_DEPTH` cut off.

Example::

    dumps({"ok": True, "data": {b"k": b"v"}})   # '{"ok":true,"data":{"k":"v"}}'
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 100
TOO_DEEP = "<nested too deeply to store>"


def dumps(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return json.dumps(plain(value), separators=(",", ":"))


def plain(value: Any, depth: int = 0) -> Any:
    """A JSON-able copy of msgpack data (see the module docstring for what changes)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {_key(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    return repr(value)


def _key(key: Any) -> str:
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
