import msgpack
import pytest

from pvc.errors import ProtocolError
from pvc.wire.codec import decode, encode, field, unpack


def test_roundtrip():
    msg = decode(encode("auth", {"id": "m1"}), frozenset({"auth"}))
    assert msg["id"] == "m1" and msg["k"] == "auth"


def test_size_checked_before_decoding():
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        unpack(b"\x00" * 101, max_size=100)


@pytest.mark.parametrize("payload", [b"\xc1", b"\x92\x01", b"\xd9\x05ab", b"garbage" * 3])
def test_malformed_msgpack_raises_protocol_error(payload):
    with pytest.raises(ProtocolError):
        decode(payload, frozenset({"auth"}))


def test_wrong_version_and_kind_refused():
    with pytest.raises(ProtocolError, match="version"):
        decode(msgpack.packb({"v": 99, "k": "auth"}), frozenset({"auth"}))
    with pytest.raises(ProtocolError, match="kind"):
        decode(encode("publish", {}), frozenset({"auth"}))
    with pytest.raises(ProtocolError, match="not a map"):
        decode(msgpack.packb([1, 2]), frozenset({"auth"}))


def test_ext_types_refused():
    data = msgpack.packb({"v": 1, "k": "auth", "x": msgpack.ExtType(1, b"evil")})
    with pytest.raises(ProtocolError):
        decode(data, frozenset({"auth"}))


def test_field_types_and_lengths():
    assert field({"a": "x"}, "a", str) == "x"
    with pytest.raises(ProtocolError):
        field({"a": 1}, "a", str)
    with pytest.raises(ProtocolError):
        field({"a": True}, "a", int)
    with pytest.raises(ProtocolError, match="too long"):
        field({"a": "xxxx"}, "a", str, 3)
