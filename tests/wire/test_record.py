"""pvc.wire.record and every record kind of messages/inner/local: round trips, strict field
types, bounds, lengths, missing and extra fields, nested records and containers of records."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

import pytest

from pvc.errors import InvalidArgument, ProtocolError
from pvc.wire import inner, local, messages
from pvc.wire.codec import decode, pack, unpack
from pvc.wire.inner import DOWN, UP
from pvc.wire.local import REPLIES, REQUESTS
from pvc.wire.record import Kinds, Record, f, record
from tests.wire import samples

ALL_OUTER = samples.OUTER + samples.REQUEST_RECORDS + samples.REPLY_RECORDS
ALL = ALL_OUTER + samples.UP_RECORDS + samples.DOWN_RECORDS + samples.PLAIN


def _id(rec: Record) -> str:
    return type(rec).__name__


# -- round trips -------------------------------------------------------------------------------

@pytest.mark.parametrize("rec", ALL, ids=_id)
def test_to_map_from_map_round_trip(rec: Record) -> None:
    assert type(rec).from_map(rec.to_map()) == rec


@pytest.mark.parametrize("rec", ALL_OUTER, ids=_id)
def test_outer_bytes_round_trip(rec: messages.Outer) -> None:
    msg = decode(rec.encode(), frozenset({rec.KIND}))
    assert msg["k"] == rec.KIND
    assert type(rec).from_map(msg) == rec


@pytest.mark.parametrize(("table", "recs"), [(UP, samples.UP_RECORDS), (DOWN, samples.DOWN_RECORDS)],
                         ids=["UP", "DOWN"])
def test_inner_tables_round_trip(table: Kinds, recs: list[Record]) -> None:
    for rec in recs:
        assert table.decode(unpack(pack(table.tagged(rec)))) == rec


@pytest.mark.parametrize(("table", "recs"), [(REQUESTS, samples.REQUEST_RECORDS), (REPLIES, samples.REPLY_RECORDS)],
                         ids=["REQUESTS", "REPLIES"])
def test_local_tables_round_trip(table: local.OuterKinds, recs: list[messages.Outer]) -> None:
    for rec in recs:
        assert table.decode_message(rec.encode(), 1 << 20) == rec


def test_tables_cover_every_kind() -> None:
    assert set(UP.table) == {"ret", "hb", "event", "grains", "lost", "bye", "file_req", "file_list_req", "pillar_req",
                             "mine_update", "mine_delete", "mine_get"}
    assert set(DOWN.table) == {"ack", "rekey", "pong", "jobbox", "kill", "file_data", "file_list", "pillar", "mine_data"}
    assert set(REQUESTS.table) == {"publish", "job_get", "job_list", "keys_changed", "event_fire", "expected", "ping",
                                   "job_kill", "job_active", "status"}
    assert set(REPLIES.table) == {"published", "ret", "done", "job", "jobs", "ok", "error", "minions", "active",
                                  "kill_sent", "statuses"}
    for rec in samples.UP_RECORDS:
        assert type(rec) in UP.table.values()
    for rec in samples.DOWN_RECORDS:
        assert type(rec) in DOWN.table.values()


def test_outer_kinds_sets() -> None:
    assert messages.ENROL_KINDS == {"hello", "auth"}
    assert messages.MINION_ENROL_KINDS == {"challenge", "auth_reply", "busy"}
    assert messages.MASTER_CHANNEL_KINDS == {"sealed"}
    assert messages.MINION_CHANNEL_KINDS == {"sealed", "reauth", "pub"}


def test_wire_keys_are_the_short_names() -> None:
    m = samples.JOB.to_map()
    assert set(m) == {"jid", "tgt", "tt", "fun", "arg", "kw", "ts", "to"}
    with pytest.raises(ProtocolError, match="'args' is missing"):
        messages.Job.from_map({**{k: v for k, v in m.items() if k != "arg"}, "args": []})


def test_a_table_refuses_the_kind_of_another_table() -> None:
    with pytest.raises(ProtocolError, match="unknown message kind"):
        UP.decode(DOWN.tagged(inner.Ack(["j"])))
    with pytest.raises(ProtocolError, match="unknown message kind"):
        DOWN.decode(UP.tagged(inner.Bye()))
    with pytest.raises(ProtocolError):
        REQUESTS.decode_message(local.Ok().encode(), 4096)
    with pytest.raises(ProtocolError):
        REPLIES.decode_message(local.Ping().encode(), 4096)


@pytest.mark.parametrize("m", [None, [], "x", 1, {}, {"t": None}, {"t": []}, {"t": {}}, {"t": "nope"},
                               {"t": b"ret"}, {"t": 1}])
def test_kinds_decode_refuses_bad_shapes(m: Any) -> None:
    with pytest.raises(ProtocolError):
        UP.decode(m)


def test_kinds_contains() -> None:
    assert "ret" in UP and "ack" not in UP and [] not in UP and None not in UP


# -- wrong types, generically ----------------------------------------------------------------

_WRONG: dict[Any, list[Any]] = {
    str: [1, b"x", None, True, 1.5, [], {}],
    bytes: ["x", 1, None, [], bytearray(b"x")],
    int: [True, False, "1", 1.5, 1.0, None, [], b"\x01"],
    float: [True, "1.0", None, [], b"x"],
    bool: [1, 0, "true", None, 1.0],
}


def _wrong_values(hint: Any) -> list[Any]:
    if hint in _WRONG:
        return _WRONG[hint]
    origin = typing.get_origin(hint) or hint
    if origin is list:
        return ["x", {}, 1, None, (1,)]
    if origin is dict:
        return ["x", [], 1, None]
    if isinstance(hint, type) and issubclass(hint, Record):
        return ["x", [], 1, None]
    return []  # Any


def _field_cases() -> list[tuple[Record, str, str, Any]]:
    cases = []
    seen: set[type] = set()
    for rec in ALL:
        cls = type(rec)
        if cls in seen:
            continue
        seen.add(cls)
        hints = typing.get_type_hints(cls)
        for fld in dataclasses.fields(cls):
            key = fld.metadata.get("key") or fld.name
            for bad in _wrong_values(hints[fld.name]):
                cases.append((rec, fld.name, key, bad))
    return cases


@pytest.mark.parametrize(("rec", "name", "key", "bad"), _field_cases(),
                         ids=lambda v: type(v).__name__ if isinstance(v, Record) else repr(v)[:20])
def test_every_field_refuses_wrong_types(rec: Record, name: str, key: str, bad: Any) -> None:
    m = rec.to_map()
    m[key] = bad
    with pytest.raises(ProtocolError, match=name):
        type(rec).from_map(m)


def test_float_fields_take_ints_and_int_fields_do_not_take_floats() -> None:
    m = samples.JOB.to_map()
    job = messages.Job.from_map({**m, "ts": 5, "to": 0})
    assert job.ts == 5.0 and type(job.ts) is float and type(job.timeout) is float
    with pytest.raises(ProtocolError, match="'c' has the wrong type"):
        messages.Sealed.from_map({"id": "m", "c": 1.0, "ct": b""})
    with pytest.raises(ProtocolError, match="'c' has the wrong type"):
        messages.Sealed.from_map({"id": "m", "c": True, "ct": b""})
    with pytest.raises(ProtocolError, match="'id' has the wrong type"):
        messages.Sealed.from_map({"id": 1, "c": 1, "ct": b""})
    with pytest.raises(ProtocolError, match="'ok' has the wrong type"):
        inner.ReturnRec.from_map({"ok": 1})


@pytest.mark.parametrize("m", [None, [], "x", 1, b"x"])
def test_from_map_refuses_non_maps(m: Any) -> None:
    for cls in (messages.Hello, messages.AuthRequest, inner.Bye, local.JobView):
        with pytest.raises(ProtocolError, match="expected a map"):
            cls.from_map(m)


# -- bounds ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("cls", "base", "key", "bad"), [
    (messages.Sealed, {"id": "m", "ct": b""}, "c", -1),
    (messages.Sealed, {"id": "m", "ct": b""}, "c", 2**63 + 1),
    (messages.Publication, {"n": samples.NONCE, "ct": b"", "sig": samples.SIG}, "kid", -1),
    (inner.Rekey, {"key": samples.K32}, "kid", 2**64 - 1),
    (inner.Pong, {}, "mtime", -0.5),
    (inner.ReturnRec, {"ok": True}, "duration", -1),
    (local.JobList, {}, "limit", 0),
    (local.JobList, {}, "limit", 10_001),
    (local.JobSummary, samples.SUMMARY.to_map(), "minions", -1),
])
def test_numbers_out_of_range_refused(cls: type[Record], base: dict, key: str, bad: Any) -> None:
    with pytest.raises(ProtocolError, match="out of range"):
        cls.from_map({**base, key: bad})


def test_number_bounds_are_inclusive() -> None:
    assert messages.Sealed.from_map({"id": "m", "c": 2**63, "ct": b""}).c == 2**63
    assert messages.Sealed.from_map({"id": "m", "c": 0, "ct": b""}).c == 0
    reply = samples.OUTER[3].to_map()
    assert messages.AuthReply.from_map({**reply, "chan_port": 65535}).chan_port == 65535
    assert messages.AuthReply.from_map({**reply, "chan_port": 0}).chan_port == 0
    for port in (65536, -1):
        with pytest.raises(ProtocolError, match="out of range"):
            messages.AuthReply.from_map({**reply, "chan_port": port})


def test_publish_timeout_bounds() -> None:
    m = samples.REQUEST_RECORDS[0].to_map()
    with pytest.raises(ProtocolError, match="out of range"):
        local.PublishReq.from_map({**m, "timeout": 86400.5})
    with pytest.raises(InvalidArgument, match="timeout"):
        local.PublishReq.from_map({**m, "timeout": 0})
    with pytest.raises(InvalidArgument, match="not a function name"):
        local.PublishReq.from_map({**m, "fun": "../etc"})


@pytest.mark.parametrize(("cls", "key", "size"), [
    (messages.Challenge, "c", 32), (messages.AuthRequest, "pub", 32), (messages.AuthRequest, "eph", 32),
    (messages.AuthRequest, "curve", 32), (messages.AuthRequest, "chal", 32), (messages.AuthRequest, "sig", 64),
    (messages.AuthReply, "n", 12), (messages.AuthReply, "sig", 64), (messages.AuthReply, "mpub", 32),
    (messages.Publication, "n", 12), (messages.Publication, "sig", 64), (inner.Rekey, "key", 32),
])
def test_fixed_sizes_exact(cls: type[Record], key: str, size: int) -> None:
    base = next(r for r in ALL if type(r) is cls).to_map()
    assert cls.from_map({**base, key: b"\x00" * size})
    for n in (0, size - 1, size + 1):
        with pytest.raises(ProtocolError, match="wrong length"):
            cls.from_map({**base, key: b"\x00" * n})


@pytest.mark.parametrize(("cls", "key", "most"), [
    (messages.AuthRequest, "id", 128), (messages.Sealed, "id", 128), (messages.Job, "jid", 64),
    (messages.Job, "tt", 16), (messages.Job, "fun", 256), (inner.EventMsg, "tag", 512),
    (inner.Lost, "reason", 256), (local.ErrorReply, "type", 128), (messages.AuthReply, "wrapped", 4096),
])
def test_maximum_lengths(cls: type[Record], key: str, most: int) -> None:
    base = next(r for r in ALL if type(r) is cls).to_map()
    filler = b"x" if isinstance(base[key], bytes) else "x"
    assert cls.from_map({**base, key: filler * most})
    with pytest.raises(ProtocolError, match="wrong length"):
        cls.from_map({**base, key: filler * (most + 1)})


def test_list_lengths_and_item_lengths() -> None:
    assert inner.Heartbeat.from_map({"vms": ["v"] * 4096})
    with pytest.raises(ProtocolError, match="too many items"):
        inner.Heartbeat.from_map({"vms": ["v"] * 4097})
    with pytest.raises(ProtocolError, match="wrong length"):
        inner.Heartbeat.from_map({"vms": ["ok", "v" * 129]})
    with pytest.raises(ProtocolError, match="wrong type"):
        inner.Heartbeat.from_map({"vms": ["ok", 1]})
    with pytest.raises(ProtocolError, match="wrong length"):
        inner.Ack.from_map({"jids": ["j" * 65]})
    with pytest.raises(ProtocolError, match="wrong length"):
        local.Minions.from_map({"minions": [], "connected": ["m" * 129]})


def test_dict_values_are_checked() -> None:
    with pytest.raises(ProtocolError, match="missing"):
        local.Done.from_map({"jid": "j", "missing": {"m1": 1}})
    assert local.Done.from_map({"jid": "j", "missing": {"m1": "timed out"}}).missing == {"m1": "timed out"}


# -- missing and extra fields ------------------------------------------------------------------

@pytest.mark.parametrize("rec", ALL, ids=_id)
def test_missing_required_fields_refused_and_defaults_filled(rec: Record) -> None:
    cls = type(rec)
    full = rec.to_map()
    for fld in dataclasses.fields(cls):
        key = fld.metadata.get("key") or fld.name
        partial = {k: v for k, v in full.items() if k != key}
        required = fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING
        if required:
            with pytest.raises(ProtocolError, match=f"'{fld.name}' is missing"):
                cls.from_map(partial)
        else:
            default = fld.default if fld.default is not dataclasses.MISSING else fld.default_factory()  # type: ignore[misc]
            assert getattr(cls.from_map(partial), fld.name) == default


def test_defaults_are_not_shared() -> None:
    a, b = inner.Heartbeat.from_map({}), inner.Heartbeat.from_map({})
    a.vms.append("x")
    assert b.vms == [] and inner.Heartbeat().vms == []
    p, q = local.Published("j", []), local.Published("j", [])
    p.missing["m"] = "x"
    assert q.missing == {}


@pytest.mark.parametrize("rec", ALL, ids=_id)
def test_extra_fields_ignored(rec: Record) -> None:
    m = {**rec.to_map(), "zz_future": [1, {"x": 2}], "": None}
    assert type(rec).from_map(m) == rec


# -- nested records and containers of records --------------------------------------------------

def test_nested_record_checked() -> None:
    good = inner.Ret("j", samples.RET).to_map()
    assert good["ret"] == samples.RET.to_map()
    for bad in ("x", [], None, {"ok": "yes"}, {}, {"ok": True, "duration": float("-1")}):
        with pytest.raises(ProtocolError):
            inner.Ret.from_map({**good, "ret": bad})
    box = inner.JobBox(samples.JOB).to_map()
    with pytest.raises(ProtocolError, match="'jid'"):
        inner.JobBox.from_map({"job": {**box["job"], "jid": 5}})


def test_list_of_records() -> None:
    rep = local.JobsReply([samples.SUMMARY])
    m = rep.to_map()
    assert m["jobs"] == [samples.SUMMARY.to_map()]
    assert local.JobsReply.from_map(m).jobs == [samples.SUMMARY]
    for bad in (["x"], [samples.SUMMARY.to_map(), {}], [None], "x", {"a": samples.SUMMARY.to_map()}):
        with pytest.raises(ProtocolError):
            local.JobsReply.from_map({"jobs": bad})


def test_dict_of_records() -> None:
    view = samples.REPLY_RECORDS[4]
    m = view.to_map()
    assert m["returns"]["web1"] == {"ret": samples.RET.to_map(), "received": 2.0}
    back = local.JobView.from_map(m)
    assert isinstance(back.returns["web1"], local.StoredRet) and back == view
    for bad in ({"web1": "x"}, {"web1": {"ret": samples.RET.to_map()}}, {"web1": {"ret": {}, "received": 1.0}},
                ["web1"]):
        with pytest.raises(ProtocolError):
            local.JobView.from_map({**m, "returns": bad})


def test_records_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        samples.JOB.jid = "x"  # type: ignore[misc]


# -- the record machinery itself ------------------------------------------------------------

@record("probe")
@dataclass(frozen=True)
class Probe(Record):
    name: str | None = f(default=None, max=3)
    count: int | None = f(default=None, lo=0, hi=9)
    sub: inner.Pong | None = f(default=None)
    many: list[inner.Pong] = f(default=())
    named: dict[str, inner.Pong] = f(default={})
    blob: Any = f(default=None)


def test_optional_fields() -> None:
    assert Probe.from_map({"name": None, "count": None, "sub": None}) == Probe()
    assert Probe.from_map({"name": "abc", "count": 9}).count == 9
    with pytest.raises(ProtocolError, match="wrong length"):
        Probe.from_map({"name": "abcd"})
    with pytest.raises(ProtocolError, match="out of range"):
        Probe.from_map({"count": 10})
    with pytest.raises(ProtocolError):
        Probe.from_map({"sub": {"mtime": "x"}})


def test_containers_of_records_round_trip() -> None:
    p = Probe(sub=inner.Pong(1.0), many=[inner.Pong(2.0), inner.Pong(3.0)], named={"a": inner.Pong(4.0)},
              blob={"x": [1]})
    m = p.to_map()
    assert m["sub"] == {"mtime": 1.0, "every": 0.0} and [x["mtime"] for x in m["many"]] == [2.0, 3.0]
    assert m["named"] == {"a": {"mtime": 4.0, "every": 0.0}}
    assert Probe.from_map(m) == p
    assert Probe.KIND == "probe"


def test_duplicate_kinds_and_bad_annotations_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Kinds([inner.Ack, inner.Ack])
    with pytest.raises(TypeError, match="cannot be"):
        @record("bad")
        @dataclass(frozen=True)
        class Bad(Record):
            when: set = f()  # type: ignore[type-arg]


def test_tagged_and_tag_key() -> None:
    table = Kinds([inner.Pong], tag_key="kind")
    m = table.tagged(inner.Pong(1.0))
    assert m == {"mtime": 1.0, "every": 0.0, "kind": "pong"}
    assert table.decode(m) == inner.Pong(1.0)
    with pytest.raises(ProtocolError):
        table.decode({"mtime": 1.0, "t": "pong"})
