"""Total JSON decoding of frozen dataclass records.

A record is a frozen dataclass whose fields are ``str``, ``int``, ``float``, ``bool``, an
``Enum`` of strings, ``tuple[str, ...]``, ``X | None`` or another record. :func:`decode` checks
every field against its annotation and raises :class:`RecordError` for anything else: a missing
field, an unknown one, ``true`` where an ``int`` is expected, a string outside the enum. Nothing
is ever filled in by default: a schema change is a migration, not a lenient reader.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class P:
...     x: int
>>> decode(P, encode(P(3)))
P(x=3)
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import types
import typing
from typing import Any, TypeVar

from pvc.cluster.errors import RecordError

T = TypeVar("T")
MAX_RECORD = 1024 * 1024  # ZooKeeper's default jute.maxbuffer


def encode(record: Any) -> bytes:
    """The record as compact, key-sorted UTF-8 JSON (readable with zkCli)."""
    return json.dumps(to_plain(record), sort_keys=True, separators=(",", ":")).encode()


def to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [to_plain(v) for v in value]
    return value


def decode(cls: type[T], data: bytes | None, where: str = "") -> T:
    """Parse ``data`` (JSON bytes from a znode) into ``cls``; ``where`` names the znode in errors."""
    if data is None or len(data) > MAX_RECORD:
        raise RecordError(f"{where or cls.__name__}: no data or more than {MAX_RECORD} bytes")
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RecordError(f"{where or cls.__name__}: not JSON ({exc})") from None
    return from_plain(cls, value, where or cls.__name__)


def from_plain(cls: type[T], value: Any, where: str) -> T:
    if not isinstance(value, dict):
        raise RecordError(f"{where}: expected an object, got {type(value).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(value) - set(names))
    missing = [n for n in names if n not in value]
    if unknown or missing:
        raise RecordError(f"{where}: unknown fields {unknown}, missing fields {missing}")
    kwargs = {n: _check(hints[n], value[n], f"{where}.{n}") for n in names}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # __post_init__ validation
        raise RecordError(f"{where}: {exc}") from None


def _check(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return _check(inner, value, where)
    if origin is tuple:
        inner = typing.get_args(tp)[0]
        if not isinstance(value, list):
            raise RecordError(f"{where}: expected a list, got {type(value).__name__}")
        return tuple(_check(inner, v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise RecordError(f"{where}: {value!r} is not one of {[m.value for m in tp]}") from None
    if dataclasses.is_dataclass(tp):
        return from_plain(tp, value, where)  # type: ignore[arg-type]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if tp is float and isinstance(value, float) and not math.isfinite(value):
        raise RecordError(f"{where}: not a finite number")
    if type(value) is not tp:  # bool is not an int here, an int is not a str
        raise RecordError(f"{where}: expected {tp.__name__}, got {type(value).__name__}")
    return value
