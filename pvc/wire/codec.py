"""msgpack framing with total decoding: size first, then containers, depth, types and numbers.

Every message on every socket is one msgpack map ``{"v": PROTOCOL_VERSION, "k": kind, ...}``.
:func:`unpack` is total: it refuses oversized input before touching it, bounds how many
containers a frame may create (a 16 MiB frame of empty maps would otherwise become ~1 GiB of
Python objects), bounds nesting depth (a 400-deep grain crashed the master's matcher), and
admits only plain data — ``None``, ``bool``, ``int`` (64-bit), finite ``float``, ``str``,
``bytes``, lists and maps with string keys. Extension types (including msgpack's timestamp,
which ``ext_hook`` never sees) and NaN/inf are refused. Every failure is a
:class:`~pvc.errors.ProtocolError`, never anything else, so a per-message guard can drop it.

Example::

    unpack(pack({"a": [1, 2.5]}), max_size=4096)      # {'a': [1, 2.5]}
    unpack(b"\\x91" * 100 + b"\\xc0")                  # ProtocolError: nested deeper than 32
"""

from __future__ import annotations

import math
from typing import Any

import msgpack

from pvc import PROTOCOL_VERSION
from pvc.errors import ProtocolError

DEFAULT_MAX_SIZE = 64 * 1024 * 1024
MAX_DEPTH = 32
_MIN_CONTAINERS = 4096


def encode(kind: str, body: dict[str, Any]) -> bytes:
    """A wire message of ``kind``; ``body`` is not modified."""
    return msgpack.packb({**body, "v": PROTOCOL_VERSION, "k": kind}, use_bin_type=True)


def pack(value: Any) -> bytes:
    """Pack plain data (used for encrypted inner payloads)."""
    return msgpack.packb(value, use_bin_type=True)


class _Budget:
    """Counts containers as msgpack builds them, so a hostile frame stops early."""

    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left

    def __call__(self, obj: Any) -> Any:
        self.left -= 1
        if self.left < 0:
            raise ProtocolError("message has too many containers")
        return obj


def unpack(data: bytes, max_size: int = DEFAULT_MAX_SIZE, max_depth: int = MAX_DEPTH) -> Any:
    """Decode plain data from ``data`` or raise ProtocolError (see the module docstring)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError("message is not bytes")
    size = len(data)
    if size > max_size:
        raise ProtocolError(f"message of {size} bytes exceeds the limit of {max_size}")
    try:
        if size <= _MIN_CONTAINERS:
            # every container takes at least a byte, so a frame this small cannot pass the
            # budget: no hooks (a Python call per map or list, half of a small frame's decoding)
            value = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True, ext_hook=_no_ext)
        else:
            budget = _Budget(max(_MIN_CONTAINERS, size // 8))  # worst case ~8x the frame in objects
            value = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True, ext_hook=_no_ext,
                                    object_hook=budget, list_hook=budget)
    except ProtocolError:
        raise
    except Exception as exc:  # noqa: BLE001 - msgpack raises several unrelated types on garbage
        raise ProtocolError(f"malformed message: {type(exc).__name__}") from None
    check_plain(value, max_depth)
    return value


def check_plain(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise ProtocolError unless ``value`` is plain data no deeper than ``max_depth``.

    Iterative (no recursion to exhaust) and linear in the number of items; scalars are judged
    where they sit, only containers go on the stack (every message passes here, most of them
    a map or two of scalars).
    """
    if type(value) in _SCALARS:
        return
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is dict:
            for key in item:
                if type(key) is not str:
                    raise ProtocolError("message has a map key that is not a string")
            children = item.values()
        elif kind is list:
            children = item
        else:
            _check_scalar(item)
            continue
        if depth >= max_depth:
            raise ProtocolError(f"message is nested deeper than {max_depth}")
        for child in children:
            kind = type(child)
            if kind in _SCALARS:
                continue
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            else:
                _check_scalar(child)


def _check_scalar(item: Any) -> None:
    """A value that is neither a container nor a scalar that needs no look: a finite float."""
    if type(item) is not float:
        raise ProtocolError(f"message carries a {type(item).__name__}, which is not plain data")
    if not math.isfinite(item):
        raise ProtocolError("message carries a number that is not finite")


_SCALARS = frozenset({str, int, bool, bytes, type(None)})  # values that need no further look


def decode(data: bytes, kinds: frozenset[str], max_size: int = DEFAULT_MAX_SIZE) -> dict[str, Any]:
    """Decode one wire message and check its version and kind against ``kinds``."""
    msg = unpack(data, max_size)
    if not isinstance(msg, dict):
        raise ProtocolError("message is not a map")
    if msg.get("v") != PROTOCOL_VERSION:
        raise ProtocolError("unsupported protocol version")
    kind = msg.get("k")
    if not isinstance(kind, str) or kind not in kinds:
        raise ProtocolError("unexpected message kind")
    return msg


def _no_ext(code: int, data: bytes) -> Any:
    raise ProtocolError("msgpack extension types are not accepted")
