"""pvc.wire.codec: total decoding. Size first, then containers, depth, types and numbers;
every failure is a ProtocolError (never TypeError, RecursionError, ValueError...)."""

from __future__ import annotations

import struct
import time

import msgpack
import pytest

from pvc import PROTOCOL_VERSION
from pvc.errors import ProtocolError
from pvc.wire.codec import MAX_DEPTH, check_plain, decode, encode, pack, unpack

KINDS = frozenset({"auth", "hello"})


def _array32(n: int, item: bytes) -> bytes:
    return b"\xdd" + struct.pack(">I", n) + item * n


# -- round trips --------------------------------------------------------------------------------

def test_encode_decode_round_trip_and_body_untouched() -> None:
    body = {"id": "m1", "n": [1, 2.5, None, True, b"\x00"], "m": {"a": {"b": "c"}}}
    msg = decode(encode("auth", body), KINDS)
    assert msg == {**body, "v": PROTOCOL_VERSION, "k": "auth"}
    assert "k" not in body and "v" not in body


def test_encode_cannot_be_given_another_version_or_kind_by_the_body() -> None:
    msg = decode(encode("auth", {"v": 99, "k": "evil"}), KINDS)
    assert msg["v"] == PROTOCOL_VERSION and msg["k"] == "auth"


@pytest.mark.parametrize("value", [None, True, False, 0, -1, 2**63 - 1, -(2**63), 2**64 - 1, 1.5, "",
                                   "\u00e9\u4e2d", b"", b"\xff" * 3, [], {}, [[{"a": []}]]])
def test_plain_values_round_trip(value: object) -> None:
    assert unpack(pack(value)) == value


def test_accepts_bytearray_and_memoryview() -> None:
    data = pack({"a": 1})
    assert unpack(bytearray(data)) == {"a": 1}
    assert unpack(memoryview(data)) == {"a": 1}


@pytest.mark.parametrize("data", ["text", None, 12, [b"\x90"]])
def test_not_bytes_refused(data: object) -> None:
    with pytest.raises(ProtocolError, match="not bytes"):
        unpack(data)  # type: ignore[arg-type]


# -- size ----------------------------------------------------------------------------------------

def test_size_checked_before_decoding() -> None:
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        unpack(b"\x00" * 101, max_size=100)
    assert unpack(b"\xc0", max_size=1) is None


def test_oversized_refused_without_looking_at_it() -> None:
    # 64 MiB + 1 of garbage: refused on length alone, far faster than parsing it
    data = b"\xc1" * (64 * 1024 * 1024 + 1)
    start = time.perf_counter()
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        unpack(data)
    assert time.perf_counter() - start < 0.5


def test_decode_passes_max_size() -> None:
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        decode(encode("auth", {"pad": "x" * 5000}), KINDS, max_size=4096)


# -- malformed ----------------------------------------------------------------------------------

@pytest.mark.parametrize("payload", [b"", b"\xc1", b"\x92\x01", b"\xd9\x05ab", b"garbage" * 3,
                                     b"\x81\xa1a", b"\xdd\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff",
                                     b"\x01\x02"])
def test_malformed_msgpack_is_a_protocol_error(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode(payload, KINDS)


def test_trailing_data_refused() -> None:
    with pytest.raises(ProtocolError):
        unpack(pack({"a": 1}) + b"\xc0")


# -- depth ---------------------------------------------------------------------------------------

def test_depth_limit_is_exact() -> None:
    assert unpack(b"\x91" * MAX_DEPTH + b"\xc0") is not None
    with pytest.raises(ProtocolError, match="nested deeper"):
        unpack(b"\x91" * (MAX_DEPTH + 1) + b"\xc0")


def test_custom_depth() -> None:
    with pytest.raises(ProtocolError, match="deeper than 2"):
        unpack(pack([[[1]]]), max_depth=2)


@pytest.mark.parametrize("prefix", [b"\x91", b"\x81\xa1a"])
def test_100k_deep_nesting_is_a_protocol_error_not_a_recursion_error(prefix: bytes) -> None:
    data = prefix * 100_000 + b"\xc0"
    start = time.perf_counter()
    with pytest.raises(ProtocolError):
        unpack(data)
    assert time.perf_counter() - start < 1.0


def test_check_plain_is_iterative() -> None:
    deep: list = []
    cur = deep
    for _ in range(100_000):
        nxt: list = []
        cur.append(nxt)
        cur = nxt
    with pytest.raises(ProtocolError, match="nested deeper"):
        check_plain(deep)
    check_plain(deep, max_depth=200_000)  # no RecursionError either way


def test_maps_count_as_depth() -> None:
    value: object = 1
    for _ in range(MAX_DEPTH + 1):
        value = {"a": value}
    with pytest.raises(ProtocolError, match="nested deeper"):
        unpack(pack(value))


# -- container budget --------------------------------------------------------------------------

def test_4k_frame_of_empty_maps_is_cheap() -> None:
    data = _array32(4091, b"\x80")
    assert len(data) == 4096
    start = time.perf_counter()
    try:
        value = unpack(data, max_size=4096)
    except ProtocolError:
        pass  # refusing it is fine too
    else:
        assert len(value) == 4091
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("item", [b"\x80", b"\x90"])
def test_16mib_frame_of_empty_containers_refused_quickly(item: bytes) -> None:
    data = _array32(16 * 1024 * 1024 - 5, item)
    start = time.perf_counter()
    with pytest.raises(ProtocolError, match="too many containers"):
        unpack(data)
    assert time.perf_counter() - start < 6.0  # ~1 s on one core; the box is shared


def test_a_frame_just_over_4k_keeps_the_4k_budget() -> None:
    """Frames of up to 4 KiB are decoded without counting (each container takes a byte); one
    just over that still has the budget of 4,096 containers, not size / 8."""
    rows = [{"a": 1}] * 1200  # 4 bytes each: 4,803 bytes, 1,201 containers
    assert len(pack(rows)) > 4096 and unpack(pack(rows)) == rows
    with pytest.raises(ProtocolError, match="too many containers"):
        unpack(_array32(5000, b"\x80"))


def test_budget_grows_with_size_so_real_frames_pass() -> None:
    rows = [{"id": f"m{i}", "ok": True} for i in range(20_000)]
    assert unpack(pack(rows)) == rows


# -- types and numbers -------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("where", ["top", "list", "map", "deep"])
def test_non_finite_floats_refused_anywhere(bad: float, where: str) -> None:
    value = {"top": bad, "list": [1, bad], "map": {"x": bad}, "deep": {"a": [[{"b": [bad]}]]}}[where]
    with pytest.raises(ProtocolError, match="not finite"):
        unpack(pack(value))


def test_float32_nan_refused() -> None:
    with pytest.raises(ProtocolError, match="not finite"):
        unpack(b"\x91\xca\x7f\xc0\x00\x00")


@pytest.mark.parametrize("value", [msgpack.ExtType(1, b"evil"), msgpack.ExtType(0, b""),
                                   msgpack.ExtType(127, b"x" * 300)])
@pytest.mark.parametrize("where", ["top", "list", "map"])
def test_ext_types_refused(value: msgpack.ExtType, where: str) -> None:
    wrapped = {"top": value, "list": [value], "map": {"v": 1, "k": "auth", "x": value}}[where]
    with pytest.raises(ProtocolError, match="extension"):
        unpack(msgpack.packb(wrapped))


@pytest.mark.parametrize("where", ["top", "list", "map", "deep"])
def test_msgpack_timestamp_refused(where: str) -> None:
    ts = msgpack.Timestamp(1_700_000_000, 5)
    value = {"top": ts, "list": [ts], "map": {"t": ts}, "deep": {"a": [{"b": [ts]}]}}[where]
    with pytest.raises(ProtocolError, match="Timestamp"):
        unpack(msgpack.packb(value))


def test_raw_timestamp_ext_minus_one_refused() -> None:
    # ext -1 of 4 bytes, written by hand (fixext4, type 0xff)
    with pytest.raises(ProtocolError):
        unpack(b"\x81\xa1t\xd6\xff" + struct.pack(">I", 1_700_000_000))


@pytest.mark.parametrize("key", [1, -1, 1.5, True, None])
def test_non_string_map_keys_refused(key: object) -> None:
    with pytest.raises(ProtocolError):
        unpack(_map_with_key(key))


def _map_with_key(key: object) -> bytes:
    return b"\x81" + msgpack.packb(key) + b"\x01"


@pytest.mark.parametrize("nested", [False, True])
def test_bytes_map_keys_refused(nested: bool) -> None:
    value = {b"k": 1}
    with pytest.raises(ProtocolError):
        unpack(msgpack.packb({"a": value} if nested else value, use_bin_type=True))


def test_list_or_map_as_a_key_refused() -> None:
    with pytest.raises(ProtocolError):
        unpack(b"\x81\x90\x01")
    with pytest.raises(ProtocolError):
        unpack(b"\x81\x80\x01")


@pytest.mark.parametrize("value", [(1, 2), {1, 2}, object(), 1 + 2j])
def test_check_plain_refuses_python_only_types(value: object) -> None:
    with pytest.raises(ProtocolError, match="not plain data"):
        check_plain(value)


@pytest.mark.parametrize("value", [{"a": (1,)}, [1 + 2j], [object()]])
def test_check_plain_refuses_nested_python_only_types(value: object) -> None:
    with pytest.raises(ProtocolError, match="not plain data"):
        check_plain(value)


# -- decode: version and kind -------------------------------------------------------------------

def test_wrong_version_kind_or_shape_refused() -> None:
    with pytest.raises(ProtocolError, match="version"):
        decode(msgpack.packb({"v": 99, "k": "auth"}), KINDS)
    with pytest.raises(ProtocolError, match="version"):
        decode(msgpack.packb({"k": "auth"}), KINDS)
    with pytest.raises(ProtocolError, match="kind"):
        decode(encode("publish", {}), KINDS)
    with pytest.raises(ProtocolError, match="not a map"):
        decode(msgpack.packb([1, 2]), KINDS)


@pytest.mark.parametrize("kind", [[], {}, ["auth"], 1, None, b"auth", True, 1.5])
def test_unhashable_or_non_string_kind_is_a_protocol_error(kind: object) -> None:
    with pytest.raises(ProtocolError, match="kind"):
        decode(msgpack.packb({"v": PROTOCOL_VERSION, "k": kind}, use_bin_type=True), KINDS)


@pytest.mark.parametrize("version", [[], {}, "1", 1.0, True, None])
def test_odd_versions_refused(version: object) -> None:
    # 1.0 == 1 in Python; the only thing that matters is that nothing but ProtocolError escapes
    try:
        decode(msgpack.packb({"v": version, "k": "auth"}), KINDS)
    except ProtocolError:
        pass


@pytest.mark.parametrize("code", [-5, -128, -2])
def test_negative_ext_codes_refused(code: int) -> None:
    # fixext1 with a negative (reserved) type code, written by hand
    with pytest.raises(ProtocolError):
        unpack(b"\x91\xd4" + struct.pack(">b", code) + b"\x00")
