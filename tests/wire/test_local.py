"""pvc.wire.local: typed client requests and replies over the master's IPC socket."""

from __future__ import annotations

import msgpack
import pytest

from pvc import PROTOCOL_VERSION
from pvc.errors import InvalidArgument, ProtocolError
from pvc.wire import local
from pvc.wire.codec import encode
from pvc.wire.local import REPLIES, REQUESTS, validate_fun
from tests.wire import samples

MAX = 1 << 20


@pytest.mark.parametrize("fun", ["test.ping", "_a.b_c", "virt.list_domains", "A1.b2"])
def test_valid_function_names(fun: str) -> None:
    assert validate_fun(fun) == fun


@pytest.mark.parametrize("fun", ["", "test", "test.", ".ping", "a.b.c", "test.ping ", "test.ping\n", "1a.b",
                                 "a/b.c", "test.pi-ng", "t\u00e9st.ping", 5, None])
def test_invalid_function_names(fun: object) -> None:
    with pytest.raises(InvalidArgument, match="not a function name"):
        validate_fun(fun)  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [0.0, -1.0, 86400.01])
def test_publish_request_timeout_checked_at_construction(timeout: float) -> None:
    with pytest.raises(InvalidArgument, match="timeout"):
        local.PublishReq("*", "glob", "test.ping", [], {}, timeout)


def test_publish_request_defaults_to_streaming() -> None:
    req = REQUESTS.decode_message(encode("publish", {"tgt": "*", "tgt_type": "glob", "fun": "test.ping", "args": [],
                                                     "kwargs": {}, "timeout": 5}), MAX)
    assert isinstance(req, local.PublishReq) and req.stream is True and req.timeout == 5.0


def test_decode_message_refuses_wrong_version_kind_and_size() -> None:
    with pytest.raises(ProtocolError, match="version"):
        REQUESTS.decode_message(msgpack.packb({"v": PROTOCOL_VERSION + 1, "k": "ping"}), MAX)
    with pytest.raises(ProtocolError, match="kind"):
        REQUESTS.decode_message(encode("published", {"jid": "j", "minions": []}), MAX)
    with pytest.raises(ProtocolError, match="kind"):
        REPLIES.decode_message(encode("publish", {}), MAX)
    with pytest.raises(ProtocolError, match="exceeds"):
        REPLIES.decode_message(local.ErrorReply("x" * 5000, "PvcError").encode(), 4096)
    with pytest.raises(ProtocolError):
        REPLIES.decode_message(b"\xc1", MAX)


def test_names_are_the_table() -> None:
    assert REQUESTS.names == frozenset(REQUESTS.table)
    assert REPLIES.names == frozenset(REPLIES.table)
    assert not REQUESTS.names & REPLIES.names


@pytest.mark.parametrize("body", [
    {"jid": "j", "id": "web1", "ret": {"ok": True, "data": float("nan")}},
    {"jid": "j", "id": "web1", "ret": {"ok": "yes"}},
    {"jid": "j", "id": "web1" * 40, "ret": {"ok": True}},
    {"jid": "j", "id": "web1"},
])
def test_a_hostile_return_cannot_reach_the_client_as_anything_but_a_protocol_error(body: dict) -> None:
    with pytest.raises(ProtocolError):
        REPLIES.decode_message(encode("ret", body), MAX)


def test_job_view_with_returns_round_trips() -> None:
    view = samples.REPLY_RECORDS[4]
    back = REPLIES.decode_message(view.encode(), MAX)
    assert back == view
    assert isinstance(back, local.JobView) and back.returns["web2"].ret.value().error == "boom"


def test_error_reply_carries_the_error_type() -> None:
    back = REPLIES.decode_message(local.ErrorReply("no job", "JobNotFound").encode(), MAX)
    assert isinstance(back, local.ErrorReply) and back.type == "JobNotFound"
