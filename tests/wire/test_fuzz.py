"""A seeded fuzzer over every decoder (issue 7): random bytes, random and hostile msgpack-shaped
values (deep, NaN, huge ints, ext types, odd keys) and mutated valid records go through the
codec, every Kinds table, every record's ``from_map``, the sealed channel and publications.

The only exception allowed out of any of them is a :class:`~pvc.errors.PvcError`
(ProtocolError, AuthError, ReplayError, InvalidArgument): anything else (TypeError,
KeyError, RecursionError, OverflowError, ValueError...) would escape a per-message guard as
an internal error, or worse. ``derandomize=True``: every run tries the same inputs, so CI is
reproducible; the example counts keep the whole file to a few seconds.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pvc.crypto import Aead, Ed25519PrivateKey
from pvc.errors import PvcError
from pvc.wire import codec, inner, local, messages, publication, sealed
from pvc.wire.codec import check_plain, pack
from pvc.wire.inner import DOWN, UP
from pvc.wire.local import REPLIES, REQUESTS
from pvc.wire.messages import Sealed
from pvc.wire.record import Record
from tests.wire import samples

FUZZ = settings(derandomize=True, max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
FEW = settings(FUZZ, max_examples=120)

KEY = bytes(range(32))
MASTER = Ed25519PrivateKey.generate()
ALL_KINDS = frozenset(messages.ENROL_KINDS | messages.MINION_ENROL_KINDS | messages.MINION_CHANNEL_KINDS
                      | REQUESTS.names | REPLIES.names)
TABLES = {"UP": UP, "DOWN": DOWN, "REQUESTS": REQUESTS, "REPLIES": REPLIES}
RECORDS: list[Record] = (samples.OUTER + samples.UP_RECORDS + samples.DOWN_RECORDS + samples.REQUEST_RECORDS
                         + samples.REPLY_RECORDS + samples.PLAIN)
RECORD_CLASSES = sorted({type(r) for r in RECORDS}, key=lambda c: c.__name__)


def total(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn``; a PvcError is a refusal (fine), anything else fails the test."""
    try:
        return fn(*args)
    except PvcError:
        return None


# -- strategies --------------------------------------------------------------------------------

INTS = st.one_of(st.integers(-(2**63), 2**64 - 1), st.sampled_from([0, -1, 1, 2**63, 2**63 - 1, 2**64 - 1,
                                                                      -(2**63), 65535, 65536, True, False]))
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.floats(width=32, allow_nan=True, allow_infinity=True),
                   st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0, 1e308, -1.0]))
KINDS_TEXT = st.sampled_from(sorted(ALL_KINDS | {k for t in TABLES.values() for k in t.table}))
TEXT = st.one_of(st.text(max_size=40), KINDS_TEXT, st.sampled_from(["", "web1", "x" * 129, "j" * 65, "pvc/vm/a/b"]))
BLOBS = st.one_of(st.binary(max_size=80), st.sampled_from([b"\x00" * 12, b"\x00" * 32, b"\x00" * 64]))
SCALARS = st.one_of(st.none(), st.booleans(), INTS, FLOATS, TEXT, BLOBS)
PLAIN = st.recursive(SCALARS, lambda kids: st.one_of(st.lists(kids, max_size=6),
                                                     st.dictionaries(TEXT, kids, max_size=6)), max_leaves=30)


def _deep(depth: int, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


HOSTILE = st.one_of(
    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=16)),
    st.builds(msgpack.Timestamp, st.integers(0, 2**32 - 1), st.integers(0, 999_999_999)),
    st.builds(_deep, st.integers(30, 300), SCALARS),
    st.dictionaries(st.one_of(st.binary(max_size=4), st.integers(), st.booleans(), st.none()), SCALARS,
                    min_size=1, max_size=3),
)
VALUES = st.recursive(st.one_of(SCALARS, HOSTILE),
                      lambda kids: st.one_of(st.lists(kids, max_size=5), st.dictionaries(TEXT, kids, max_size=5)),
                      max_leaves=20)


def _packb(value: Any) -> bytes | None:
    try:
        return msgpack.packb(value, use_bin_type=True, strict_types=False)
    except (ValueError, TypeError, OverflowError):
        return None  # not representable in msgpack at all: nothing to send


HOSTILE_BYTES = st.one_of(
    st.binary(max_size=512),
    VALUES.map(_packb).filter(lambda b: b is not None),
    st.builds(lambda n, p: p * n + b"\xc0", st.integers(1, 5000), st.sampled_from([b"\x91", b"\x81\xa1a", b"\xdc\x00\x01"])),
    st.builds(lambda n, t: b"\xdd" + struct.pack(">I", n) + t * min(n, 2000), st.integers(0, 2**32 - 1),
              st.sampled_from([b"\x80", b"\x90", b"\xc0"])),
    st.builds(lambda code, data: b"\xc7" + bytes([len(data)]) + struct.pack(">b", code) + data,
              st.integers(-128, 127), st.binary(max_size=12)),
)


@st.composite
def mutated_record(draw: st.DrawFn, recs: list[Record] = RECORDS) -> tuple[type[Record], dict[str, Any]]:
    """A valid record's map with some fields dropped, replaced or added."""
    rec = draw(st.sampled_from(recs))
    m = rec.to_map()
    for key in list(m):
        action = draw(st.sampled_from(["keep", "keep", "drop", "replace", "hostile"]))
        if action == "drop":
            del m[key]
        elif action == "replace":
            m[key] = draw(PLAIN)
        elif action == "hostile":
            m[key] = draw(VALUES)
    if draw(st.booleans()):
        m[draw(TEXT)] = draw(VALUES)
    return type(rec), m


@st.composite
def tagged_map(draw: st.DrawFn) -> dict[str, Any]:
    """A mutated record tagged with a (possibly wrong) kind under "t" and "k"."""
    _, m = draw(mutated_record())
    m["t"] = draw(st.one_of(KINDS_TEXT, VALUES))
    m["k"] = draw(st.one_of(KINDS_TEXT, VALUES))
    m["v"] = draw(st.one_of(st.just(1), VALUES))
    return m


# -- codec -------------------------------------------------------------------------------------

@FUZZ
@given(HOSTILE_BYTES)
def test_unpack_and_decode_are_total(data: bytes) -> None:
    value = total(codec.unpack, data)
    if value is not None:
        check_plain(value)  # whatever comes out is plain, finite, shallow
    total(codec.decode, data, ALL_KINDS)
    total(codec.decode, data, ALL_KINDS, 64)
    total(codec.unpack, data, 1 << 20, 3)


@FUZZ
@given(PLAIN)
def test_plain_values_survive_the_codec(value: Any) -> None:
    data = pack(value)
    try:
        back = codec.unpack(data)
    except PvcError:
        return  # non-finite floats, too deep...
    assert pack(back) == data


# -- every table and every record --------------------------------------------------------------

@FUZZ
@given(st.one_of(tagged_map(), VALUES), st.sampled_from(sorted(TABLES)))
def test_every_kinds_table_is_total(m: Any, table: str) -> None:
    total(TABLES[table].decode, m)
    data = _packb(m)
    if data is not None:
        total(lambda: TABLES[table].decode(codec.unpack(data)))
        if table in ("REQUESTS", "REPLIES"):
            total(TABLES[table].decode_message, data, 1 << 20)  # type: ignore[attr-defined]


@FUZZ
@given(mutated_record())
def test_every_record_from_map_is_total(case: tuple[type[Record], dict[str, Any]]) -> None:
    cls, m = case
    rec = total(cls.from_map, m)
    if rec is not None:
        assert type(rec) is cls
        assert cls.from_map(rec.to_map()) == rec  # what decodes, re-encodes to itself


@FUZZ
@given(st.sampled_from(RECORD_CLASSES), VALUES)
def test_from_map_of_anything_is_total(cls: type[Record], value: Any) -> None:
    total(cls.from_map, value)


@FUZZ
@given(mutated_record([r for r in samples.OUTER if type(r) in (messages.AuthRequest, messages.AuthReply,
                                                               messages.Publication, messages.Sealed)]))
def test_outer_records_through_bytes_are_total(case: tuple[type[Record], dict[str, Any]]) -> None:
    cls, m = case
    data = _packb({**m, "v": 1, "k": cls.KIND})
    if data is None:
        return
    total(lambda: cls.from_map(codec.decode(data, ALL_KINDS, 4096)))


# -- the sealed channel ------------------------------------------------------------------------

def _authentic_box(plain: bytes, c: int, up: bool) -> Sealed:
    prefix, aad = (sealed._UP_NONCE, sealed._UP) if up else (sealed._DOWN_NONCE, sealed._DOWN)
    ct = Aead(KEY).seal_with(prefix + struct.pack(">Q", c), plain, aad + b"web1")
    return Sealed("web1", c, ct)


@FUZZ
@given(st.sampled_from(["web1", "web2", ""]), st.integers(0, 2**63), st.binary(max_size=200))
def test_channel_open_of_random_boxes_is_total(mid: str, c: int, ct: bytes) -> None:
    ch = sealed.Channel("web1", KEY)
    total(ch.open_up, Sealed(mid, c, ct), 1 << 20)
    total(ch.open_down, Sealed(mid, c, ct), 1 << 20)


@FUZZ
@given(st.one_of(tagged_map(), VALUES), st.integers(0, 2**63), st.booleans())
def test_channel_open_of_authentic_boxes_with_random_bodies_is_total(body: Any, c: int, up: bool) -> None:
    plain = _packb(body)
    if plain is None:
        return
    ch = sealed.Channel("web1", KEY)
    box = _authentic_box(plain, c, up)
    rec = total(ch.open_up if up else ch.open_down, box, 1 << 20)
    if rec is not None:
        assert type(rec) in (UP if up else DOWN).table.values()


@FEW
@given(st.lists(st.tuples(st.integers(0, 3000), st.booleans()), max_size=60))
def test_channel_window_under_random_orders(order: list[tuple[int, bool]]) -> None:
    """Authentic boxes in any order, forgeries mixed in: each number is accepted at most once."""
    ch = sealed.Channel("web1", KEY)
    accepted: set[int] = set()
    for c, forged in order:
        box = _authentic_box(pack(UP.tagged(inner.Bye())), c, True)
        if forged:
            box = dataclasses.replace(box, ct=box.ct[:-1] + bytes([box.ct[-1] ^ 1]))
        rec = total(ch.open_up, box, 4096)
        if rec is not None:
            assert not forged and c not in accepted
            accepted.add(c)


# -- publications ------------------------------------------------------------------------------

@FUZZ
@given(st.integers(0, 2**63), st.binary(min_size=12, max_size=12), st.binary(max_size=200),
       st.binary(min_size=64, max_size=64))
def test_publication_checks_of_random_frames_are_total(kid: int, n: bytes, ct: bytes, sig: bytes) -> None:
    pub = messages.Publication(kid, n, ct, sig)
    total(publication.check_signature, pub, MASTER.public_key())
    total(publication.open_job, pub, Aead(KEY), 1 << 20)


@FUZZ
@given(st.one_of(mutated_record([samples.JOB]).map(lambda case: case[1]), VALUES), st.integers(0, 2**63))
def test_open_job_of_authentic_publications_with_random_bodies_is_total(body: Any, kid: int) -> None:
    plain = _packb(body)
    if plain is None:
        return
    key = Aead(KEY)
    n, ct = key.seal(plain, publication._AAD + struct.pack(">Q", kid))
    pub = messages.Publication(kid, n, ct, MASTER.sign(publication._signed_bytes(kid, n, ct)))
    publication.check_signature(pub, MASTER.public_key())
    job = total(publication.open_job, pub, key, 1 << 20)
    if job is not None:
        assert isinstance(job, messages.Job)


# -- auth --------------------------------------------------------------------------------------

@FEW
@given(mutated_record([samples.OUTER[2]]))
def test_auth_request_checks_are_total(case: tuple[type[Record], dict[str, Any]]) -> None:
    from pvc.wire.auth import check_request

    req = total(messages.AuthRequest.from_map, case[1])
    if req is not None:
        total(check_request, req)


def test_local_tables_decode_the_samples() -> None:
    """Sanity: the fuzzer's seeds are valid to start with."""
    for rec in samples.REQUEST_RECORDS:
        assert REQUESTS.decode_message(rec.encode(), 1 << 20) == rec
    for rec in samples.REPLY_RECORDS:
        assert REPLIES.decode_message(rec.encode(), 1 << 20) == rec
    assert local.REQUESTS is REQUESTS
