"""Typed wire records declared once: a frozen dataclass plus a ``kind``, one codec for all.

A record's fields are its wire spec: the annotation says the type, :func:`f` adds bounds.
:func:`record` reads the dataclass once and builds a checker per field, so encoding and
decoding never repeat a field list by hand and decoding never trusts a peer's types::

    @record("hb")
    @dataclass(frozen=True)
    class Heartbeat(Record):
        seq: int = f(lo=0)
        vms: list[str] = f(default=(), max=4096, item_max=128)

    Heartbeat(seq=3).to_map()                          # {"seq": 3, "vms": []}
    Heartbeat.from_map({"seq": "x"})                   # ProtocolError: field 'seq' ...

Supported annotations: ``str``, ``bytes``, ``int`` (never ``bool``), ``float`` (an ``int`` is
accepted), ``bool``, ``Any`` (plain data, already checked by the codec), ``list[...]``,
``dict[str, ...]``, ``X | None`` and another record class (nested as a map).
:class:`Kinds` maps kinds to record classes for dispatch by a table.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

from pvc.errors import ProtocolError

Check = Callable[[Any, str], Any]
_MISSING = dataclasses.MISSING


def f(default: Any = _MISSING, *, max: int | None = None, size: int | None = None,
      lo: float | None = None, hi: float | None = None, item_max: int | None = None,
      key: str | None = None) -> Any:
    """A record field with bounds: ``max``/``size`` for str, bytes, list and dict lengths,
    ``lo``/``hi`` for numbers, ``item_max`` for the length of str items of a list, ``key`` for a
    short wire name. A list/dict ``default`` is given as a tuple and copied per instance."""
    meta = {"max": max, "size": size, "lo": lo, "hi": hi, "item_max": item_max, "key": key}
    if default is _MISSING:
        return dataclasses.field(metadata=meta)
    if isinstance(default, tuple):
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    if isinstance(default, dict):
        return dataclasses.field(default_factory=lambda: dict(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


class Spec:
    """How one record class maps to and from the wire."""

    __slots__ = ("cls", "fields", "kind")

    def __init__(self, cls: type, kind: str) -> None:
        hints = typing.get_type_hints(cls)
        self.cls = cls
        self.kind = kind
        # (name, wire key, checker, has a default, may hold records)
        self.fields: list[tuple[str, str, Check, bool, bool]] = []
        for fld in dataclasses.fields(cls):
            meta = fld.metadata
            check = _checker(hints[fld.name], meta)
            has_default = fld.default is not _MISSING or fld.default_factory is not _MISSING
            self.fields.append((fld.name, meta.get("key") or fld.name, check, has_default,
                                _holds_records(hints[fld.name])))

    def to_map(self, obj: Any) -> dict[str, Any]:
        # plain fields as they are: every message is encoded here, most of them all scalars
        return {key: _plain(getattr(obj, name)) if nested else getattr(obj, name)
                for name, key, _, _, nested in self.fields}

    def from_map(self, m: Any) -> Any:
        if not isinstance(m, dict):
            raise ProtocolError(f"{self.kind}: expected a map")
        values: dict[str, Any] = {}
        for name, key, check, has_default, _ in self.fields:
            if key in m:
                values[name] = check(m[key], name)
            elif not has_default:
                raise ProtocolError(f"{self.kind}: field '{name}' is missing")
        return self.cls(**values)


def _holds_records(hint: Any) -> bool:
    """Whether a field of type ``hint`` may hold a record (alone, in a list, as dict values)."""
    if isinstance(hint, type) and issubclass(hint, Record):
        return True
    return any(_holds_records(arg) for arg in typing.get_args(hint))


def _plain(value: Any) -> Any:
    """A field's wire value: nested records (alone, in a list, or as dict values) as maps."""
    if isinstance(value, Record):
        return value.to_map()
    if type(value) is list and value and isinstance(value[0], Record):
        return [v.to_map() for v in value]
    if type(value) is dict and value and isinstance(next(iter(value.values())), Record):
        return {k: v.to_map() for k, v in value.items()}
    return value


class Record:
    """Base of every record: ``KIND``, ``to_map()`` and ``from_map()`` come from :func:`record`."""

    KIND: ClassVar[str] = ""
    _spec: ClassVar[Spec]

    def to_map(self) -> dict[str, Any]:
        return self._spec.to_map(self)

    @classmethod
    def from_map(cls, m: Any) -> typing.Self:
        return cls._spec.from_map(m)  # type: ignore[no-any-return]


R = TypeVar("R", bound=Record)


def record(kind: str) -> Callable[[type[R]], type[R]]:
    """Class decorator (outside ``@dataclass``): attach the wire spec and ``KIND``."""

    def wrap(cls: type[R]) -> type[R]:
        cls.KIND = kind
        cls._spec = Spec(cls, kind)
        return cls

    return wrap


class Kinds:
    """A closed table of record kinds: decode a map tagged with ``tag_key`` into its record.

    Unknown kinds are refused; a duplicate kind is a programming error at import time.
    """

    def __init__(self, classes: Iterable[type[Record]], tag_key: str = "t") -> None:
        self.tag_key = tag_key
        self.table: dict[str, type[Record]] = {}
        for cls in classes:
            kind = cls.KIND
            if kind in self.table:
                raise ValueError(f"duplicate record kind {kind!r}")
            self.table[kind] = cls

    def __contains__(self, kind: object) -> bool:
        return isinstance(kind, str) and kind in self.table

    def decode(self, m: Any) -> Record:
        if not isinstance(m, dict):
            raise ProtocolError("expected a map")
        kind = m.get(self.tag_key)
        if not isinstance(kind, str) or kind not in self.table:
            raise ProtocolError("unknown message kind")
        return self.table[kind].from_map(m)

    def tagged(self, rec: Record) -> dict[str, Any]:
        """``rec``'s map with its kind under the tag key (the inverse of :meth:`decode`)."""
        out = rec.to_map()
        out[self.tag_key] = rec.KIND
        return out


# -- checkers ---------------------------------------------------------------------------------

def _checker(hint: Any, meta: typing.Mapping[str, Any]) -> Check:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        inner = _checker(members[0] if len(members) == 1 else Any, meta)
        return lambda v, n: None if v is None else inner(v, n)
    if hint is Any:
        return lambda v, n: v
    if hint is bool:
        return _typed(bool, meta)
    if hint is str or hint is bytes:
        return _sized(hint, meta)
    if hint is int:
        return _number(int, meta)
    if hint is float:
        return _number(float, meta)
    if origin is list or hint is list:
        args = typing.get_args(hint)
        item = _checker(args[0], {"max": meta.get("item_max")}) if args else None
        return _container(list, meta, item)
    if origin is dict or hint is dict:
        args = typing.get_args(hint)
        value = _checker(args[1], {}) if len(args) == 2 else None
        return _container(dict, meta, value)
    spec = getattr(hint, "_spec", None)
    if spec is not None:
        return lambda v, n: spec.from_map(v)
    raise TypeError(f"record fields cannot be {hint!r}")


def _typed(typ: Any, meta: typing.Mapping[str, Any]) -> Check:
    def check(v: Any, n: str) -> Any:
        if type(v) is not typ:
            raise ProtocolError(f"field '{n}' has the wrong type")
        return v
    return check


def _sized(typ: Any, meta: typing.Mapping[str, Any]) -> Check:
    size, most = meta.get("size"), meta.get("max")

    def check(v: Any, n: str) -> Any:
        if type(v) is not typ:
            raise ProtocolError(f"field '{n}' has the wrong type")
        if (size is not None and len(v) != size) or (most is not None and len(v) > most):
            raise ProtocolError(f"field '{n}' has the wrong length")
        return v
    return check


def _number(typ: Any, meta: typing.Mapping[str, Any]) -> Check:
    lo, hi = meta.get("lo"), meta.get("hi")
    accepted = (int,) if typ is int else (int, float)

    def check(v: Any, n: str) -> Any:
        if type(v) not in accepted:
            raise ProtocolError(f"field '{n}' has the wrong type")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ProtocolError(f"field '{n}' is out of range")
        return typ(v)
    return check


def _container(typ: Any, meta: typing.Mapping[str, Any], item: Check | None) -> Check:
    most = meta.get("max")

    def check(v: Any, n: str) -> Any:
        if type(v) is not typ:
            raise ProtocolError(f"field '{n}' has the wrong type")
        if most is not None and len(v) > most:
            raise ProtocolError(f"field '{n}' has too many items")
        if item is not None:
            if typ is list:
                return [item(x, n) for x in v]
            return {k: item(x, n) for k, x in v.items()}
        return v
    return check
