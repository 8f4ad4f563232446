"""pvc.wire.stream: ``<u32 big-endian length><payload>`` frames over a TCP stream, reassembled
from chunks of any size, never holding more than one frame's worth for a lying length."""

from __future__ import annotations

import os
import struct

import pytest

from pvc.errors import ProtocolError
from pvc.wire.stream import Deframer, frame


def test_frame_is_a_big_endian_length_then_the_payload() -> None:
    assert frame(b"hello") == b"\x00\x00\x00\x05hello"
    assert frame(b"") == b"\x00\x00\x00\x00"
    assert frame(b"x" * 300)[:4] == struct.pack(">I", 300)


def test_round_trip_in_one_chunk() -> None:
    assert Deframer(4096).feed(frame(b"hello")) == [b"hello"]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 4096])
def test_split_chunks_reassembled(size: int) -> None:
    payloads = [os.urandom(n) for n in (0, 1, 100, 4096, 17)]
    data = b"".join(frame(p) for p in payloads)
    d = Deframer(4096)
    out: list[bytes] = []
    for i in range(0, len(data), size):
        out += d.feed(data[i:i + size])
    assert out == payloads
    assert d.feed(b"") == []


def test_header_split_across_chunks() -> None:
    d = Deframer(16)
    assert d.feed(b"\x00\x00") == []
    assert d.feed(b"\x00\x03ab") == []
    assert d.feed(b"c") == [b"abc"]


def test_many_frames_in_one_chunk_in_order() -> None:
    payloads = [b"%d" % n for n in range(500)]
    tail = frame(b"next")
    assert Deframer(4096).feed(b"".join(frame(p) for p in payloads) + tail[:6]) == payloads


def test_partial_frame_waits_for_the_rest() -> None:
    d = Deframer(4096)
    data = frame(b"a" * 1000)
    assert d.feed(data[:-1]) == []
    assert d.feed(data[-1:]) == [b"a" * 1000]


def test_exact_limit_accepted() -> None:
    d = Deframer(4096)
    assert d.feed(frame(b"x" * 4096)) == [b"x" * 4096]


def test_over_limit_raises_on_the_header_alone() -> None:
    """The declared length is refused before any of the body is read or waited for."""
    d = Deframer(4096)
    with pytest.raises(ProtocolError, match="4097 bytes exceeds the limit of 4096"):
        d.feed(struct.pack(">I", 4097))
    with pytest.raises(ProtocolError):
        Deframer(4096).feed(b"\xff\xff\xff\xff")


def test_over_limit_raises_before_buffering_the_body() -> None:
    """A huge declared length followed by its first bytes: refused at once, and what is
    held stays bounded by what arrived (nothing is allocated for the declared size)."""
    d = Deframer(4096)
    with pytest.raises(ProtocolError):
        d.feed(struct.pack(">I", 2**31) + b"x" * 100)
    assert len(d._buf) <= 4 + 100


def test_over_limit_after_good_frames_still_raises() -> None:
    d = Deframer(8)
    with pytest.raises(ProtocolError):
        d.feed(frame(b"ok") + frame(b"x" * 9))


def test_zero_length_frame() -> None:
    d = Deframer(4096)
    assert d.feed(frame(b"") + frame(b"") + frame(b"z")) == [b"", b"", b"z"]
    assert Deframer(0).feed(frame(b"")) == [b""]
    with pytest.raises(ProtocolError):
        Deframer(0).feed(frame(b"a"))


def test_endless_valid_frames_hold_nothing_between_them() -> None:
    d = Deframer(4096)
    for _ in range(1000):
        assert d.feed(frame(b"y" * 4000)) == [b"y" * 4000]
        assert len(d._buf) == 0
