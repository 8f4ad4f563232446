"""Args, kwargs, minion lists and returns as msgpack bytes (a BLOB / bytea column).

They arrive from minions as msgpack, so storing msgpack keeps stored bytes equal to the wire
bytes of the value (schema version 1 stored JSON text, where a 16 MiB return of control
characters became ~96 MiB of ``\\u00XX`` escapes). Packing never fails a batch: a value msgpack
cannot pack (only possible from a caller other than the wire: sets, huge ints, surrogates,
nesting over msgpack's limit) is stored as a plain copy instead.

Reading gives the same plain data as version 1 did: bytes as UTF-8 text (undecodable bytes
replaced), map keys as strings, tuples as lists, anything nested deeper than
:data:`MAX_DEPTH` cut off and replaced by :data:`TOO_DEEP`.

Example::

    unpack(pack({"ok": True, "data": {b"k": b"v"}}))   # {'ok': True, 'data': {'k': 'v'}}
"""

from __future__ import annotations

from typing import Any

import msgpack  # type: ignore[import-untyped]  # no stubs published

MAX_DEPTH = 100
TOO_DEEP = "<nested too deeply to store>"
_INT_RANGE = range(-(2**63), 2**64)


def pack(value: Any) -> bytes:
    try:
        packed: bytes = msgpack.packb(value, use_bin_type=True)
    except (TypeError, ValueError, OverflowError):  # ValueError: msgpack's nesting limit
        packed = msgpack.packb(_storable(value), use_bin_type=True)
    return packed


def unpack(blob: bytes | memoryview) -> Any:
    try:
        value = msgpack.unpackb(blob, raw=False, strict_map_key=False, unicode_errors="replace")
    except TypeError:  # a tuple key stored by a caller other than the wire: unhashable as a list
        value = msgpack.unpackb(blob, raw=False, strict_map_key=False, unicode_errors="replace", use_list=False)
    return plain(value)


def unpack_ids(blob: bytes | memoryview) -> frozenset[str]:
    """A packed list of minion ids, without :func:`plain`'s walk (a job may expect thousands)."""
    ids = msgpack.unpackb(blob, raw=False, unicode_errors="replace")
    try:
        return frozenset(ids)  # a list of str, as JobRecord.minions is
    except TypeError:  # a caller put something else in JobRecord.minions
        return frozenset(map(str, plain(ids)))


def plain(value: Any, depth: int = 0) -> Any:
    """A JSON-able copy of msgpack data (see the module docstring for what changes)."""
    if isinstance(value, (str, bool, float)) or value is None:
        return value
    if isinstance(value, int):
        return value if value in _INT_RANGE else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {_key(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    return repr(value)


def _storable(value: Any) -> Any:
    """``plain(value)`` with every string also encodable as UTF-8 (lone surrogates replaced)."""
    return _utf8(plain(value))


def _utf8(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_utf8(k): _utf8(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utf8(v) for v in value]
    return value


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    return bytes(key).decode("utf-8", "replace") if isinstance(key, (bytes, bytearray)) else str(key)
