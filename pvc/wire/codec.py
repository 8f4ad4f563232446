"""msgpack framing with a size check before decoding and strict types after.

Every message on every socket is one msgpack map ``{"v": PROTOCOL_VERSION, "k": kind, ...}``.
:func:`decode` refuses oversized input before touching it, refuses anything that is not a map
with the right version and a known kind, and never produces anything but plain data
(no ext types, no pickle).
"""

from __future__ import annotations

from typing import Any

import msgpack

from pvc import PROTOCOL_VERSION
from pvc.errors import ProtocolError

DEFAULT_MAX_SIZE = 64 * 1024 * 1024


def encode(kind: str, body: dict[str, Any]) -> bytes:
    body["v"] = PROTOCOL_VERSION
    body["k"] = kind
    return msgpack.packb(body, use_bin_type=True)


def pack(value: Any) -> bytes:
    """Pack plain data (used for encrypted inner payloads)."""
    return msgpack.packb(value, use_bin_type=True)


def unpack(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> Any:
    if len(data) > max_size:
        raise ProtocolError(f"message of {len(data)} bytes exceeds the limit of {max_size}")
    try:
        # unpackb bounds every container and string by len(data), which was checked above
        return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True, ext_hook=_no_ext)
    except ProtocolError:
        raise
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise ProtocolError(f"malformed message: {type(exc).__name__}") from None


def decode(data: bytes, kinds: frozenset[str], max_size: int = DEFAULT_MAX_SIZE) -> dict[str, Any]:
    """Decode one wire message and check its version and kind against ``kinds``."""
    msg = unpack(data, max_size)
    if not isinstance(msg, dict):
        raise ProtocolError("message is not a map")
    if msg.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(f"unsupported protocol version {msg.get('v')!r}")
    kind = msg.get("k")
    if kind not in kinds:
        raise ProtocolError(f"unexpected message kind {kind!r}")
    return msg


def field(msg: dict[str, Any], name: str, typ: type | tuple[type, ...], max_len: int | None = None) -> Any:
    """Fetch a required field of the given type (and bounded length for str/bytes/list)."""
    value = msg.get(name)
    if not isinstance(value, typ) or (typ in (int, float) and isinstance(value, bool)):
        raise ProtocolError(f"field '{name}' is missing or has the wrong type")
    if max_len is not None and len(value) > max_len:
        raise ProtocolError(f"field '{name}' is too long")
    return value


def _no_ext(code: int, data: bytes) -> Any:
    raise ProtocolError("msgpack extension types are not accepted")
