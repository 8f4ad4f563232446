"""pvc.wire.auth: the challenge-bound request, the signed reply bound to it, the grant."""

from __future__ import annotations

import dataclasses
import time
import types

import pytest

from pvc.crypto import Aead, Ed25519PrivateKey, X25519PrivateKey, public_bytes
from pvc.errors import AuthError, ProtocolError
from pvc.wire import auth as auth_mod
from pvc.wire.auth import (
    ACCEPTED,
    BUSY,
    DENIED,
    PENDING,
    REJECTED,
    Offer,
    ReplyParams,
    check_request,
    make_reply,
    make_request,
    open_reply,
)
from pvc.wire.codec import decode, pack
from pvc.wire.messages import ENROL_KINDS, MINION_ENROL_KINDS, AuthReply, AuthRequest

CHAL = b"\x05" * 32
SESSION = b"s" * 32
MINION = Ed25519PrivateKey.generate()
MASTER = Ed25519PrivateKey.generate()
PARAMS = ReplyParams(MASTER, 4507, b"\x0c" * 32)


def _request(mid: str = "web1", chal: bytes = CHAL, identity: Ed25519PrivateKey = MINION):
    return make_request(Offer(mid, identity, b"\x0b" * 32), chal)


def _exchange(status: str = ACCEPTED):
    req, eph = _request()
    check_request(req)
    reply, channel = make_reply(req, status, PARAMS, key_id=7, session_key=SESSION)
    return req, eph, reply, channel


def test_accepted_exchange_gives_both_sides_the_same_keys() -> None:
    req, eph, reply, channel = _exchange()
    grant = open_reply(reply, req, eph, MASTER.public_key())
    assert grant is not None
    assert grant.key_id == 7 and grant.session_key == SESSION
    assert grant.channel_key == channel and len(channel) == 32
    assert (grant.chan_port, grant.master_curve) == (4507, b"\x0c" * 32)
    assert abs(grant.clock_offset) < 5


def test_exchange_through_the_wire() -> None:
    req, eph = _request()
    wire_req = AuthRequest.from_map(decode(req.encode(), ENROL_KINDS, 4096))
    assert wire_req == req
    assert check_request(wire_req)
    reply, channel = make_reply(wire_req, ACCEPTED, PARAMS, 1, SESSION)
    wire_rep = AuthReply.from_map(decode(reply.encode(), MINION_ENROL_KINDS, 4096))
    grant = open_reply(wire_rep, req, eph, MASTER.public_key())
    assert grant is not None and grant.channel_key == channel
    assert len(req.encode()) < 4096 and len(reply.encode()) < 4096  # fits the pre-auth frame limit


def test_each_request_has_a_fresh_exchange_key_and_keys_differ_per_exchange() -> None:
    a, b = _exchange(), _exchange()
    assert a[0].eph != b[0].eph and a[3] != b[3]


@pytest.mark.parametrize("status", [PENDING, REJECTED, DENIED, BUSY])
def test_other_statuses_grant_nothing(status: str) -> None:
    req, eph, reply, channel = _exchange(status)
    assert open_reply(reply, req, eph, MASTER.public_key()) is None
    assert channel == b"" and reply.wrapped == b"" and reply.status == status


def test_reply_signed_by_another_master_refused() -> None:
    req, eph, reply, _ = _exchange()
    with pytest.raises(AuthError, match="signature"):
        open_reply(reply, req, eph, Ed25519PrivateKey.generate().public_key())


def test_reply_bound_to_its_request() -> None:
    req, eph, reply, _ = _exchange()
    new_req, new_eph = _request()  # same challenge, new exchange key
    with pytest.raises(AuthError):
        open_reply(reply, new_req, new_eph, MASTER.public_key())
    other_chal, other_eph = _request(chal=b"\x06" * 32)
    with pytest.raises(AuthError):
        open_reply(reply, other_chal, other_eph, MASTER.public_key())
    forged_req = dataclasses.replace(new_req, eph=req.eph)  # with the old eph but not its secret
    with pytest.raises(AuthError):
        open_reply(reply, forged_req, new_eph, MASTER.public_key())
    assert open_reply(reply, req, eph, MASTER.public_key()) is not None


def test_reply_for_another_id_refused() -> None:
    req, eph, _, _ = _exchange()
    other, _ = _request("web2")
    reply, _ = make_reply(other, ACCEPTED, PARAMS, 1, SESSION)
    with pytest.raises(AuthError, match="another minion"):
        open_reply(reply, req, eph, MASTER.public_key())


_REPLY_TAMPER = {
    "status": "pending", "id": "web2", "mpub": b"\x00" * 32, "meph": b"\x01" * 32, "n": b"\x02" * 12,
    "wrapped": b"xx", "chan_port": 2, "mcurve": b"\x03" * 32, "mtime": 1.0,
    "sig": b"\x04" * 64,
}


@pytest.mark.parametrize("field", sorted(_REPLY_TAMPER))
def test_tampered_reply_fields_refused(field: str) -> None:
    req, eph, reply, _ = _exchange()
    with pytest.raises(AuthError):
        open_reply(dataclasses.replace(reply, **{field: _REPLY_TAMPER[field]}), req, eph, MASTER.public_key())


def test_pending_reply_cannot_be_turned_into_accepted() -> None:
    req, eph, reply, _ = _exchange(PENDING)
    with pytest.raises(AuthError):
        open_reply(dataclasses.replace(reply, status=ACCEPTED), req, eph, MASTER.public_key())


_REQUEST_TAMPER = {"id": "web2", "eph": b"\x01" * 32, "curve": b"\x02" * 32, "chal": b"\x03" * 32,
                   "sig": b"\x04" * 64}


@pytest.mark.parametrize("field", sorted(_REQUEST_TAMPER))
def test_tampered_request_fields_refused(field: str) -> None:
    req, _ = _request()
    with pytest.raises(AuthError):
        check_request(dataclasses.replace(req, **{field: _REQUEST_TAMPER[field]}))


def test_request_under_another_key_refused() -> None:
    req, _ = _request()
    other = Ed25519PrivateKey.generate()
    with pytest.raises(AuthError):
        check_request(dataclasses.replace(req, pub=public_bytes(other.public_key())))
    with pytest.raises(AuthError):
        check_request(dataclasses.replace(req, pub=b"\xff" * 32))  # not even a point


def test_check_request_returns_the_offered_key() -> None:
    req, _ = _request()
    assert public_bytes(check_request(req)) == public_bytes(MINION.public_key())


def test_clock_offset_is_the_masters_clock_minus_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    req, eph = _request()
    ahead = time.time() + 600
    with monkeypatch.context() as m:
        m.setattr(auth_mod, "time", types.SimpleNamespace(time=lambda: ahead))
        reply, _ = make_reply(req, ACCEPTED, PARAMS, 1, SESSION)
    assert reply.mtime == ahead
    grant = open_reply(reply, req, eph, MASTER.public_key())
    assert grant is not None and 595 < grant.clock_offset < 605


def _signed_reply_with(req: AuthRequest, inner: bytes) -> tuple[AuthReply, X25519PrivateKey]:
    """An accepted reply, correctly signed, whose wrapped content is ``inner``."""
    meph = X25519PrivateKey.generate()
    wrap_key, _ = auth_mod._keys(meph, req.eph, req.id)
    n, wrapped = Aead(wrap_key).seal(inner, req.id.encode())
    unsigned = AuthReply(ACCEPTED, req.id, public_bytes(MASTER.public_key()), public_bytes(meph.public_key()), n,
                         wrapped, 2, b"\x00" * 32, time.time(), 0.0, b"\x00" * 64)
    return dataclasses.replace(unsigned, sig=MASTER.sign(auth_mod._rep_bytes(unsigned, req))), meph


@pytest.mark.parametrize("inner", [pack([1]), pack([1, b"short"]), pack(["1", b"k" * 32]), pack({"a": 1}),
                                   pack([True, b"k" * 32]), b"\xc1", pack([1, b"k" * 32, 3])])
def test_malformed_wrapped_session_key_refused(inner: bytes) -> None:
    req, eph = _request()
    reply, _ = _signed_reply_with(req, inner)
    with pytest.raises((AuthError, ProtocolError)):
        open_reply(reply, req, eph, MASTER.public_key())


def _zero_eph_request() -> AuthRequest:
    req, _ = _request()
    unsigned = dataclasses.replace(req, eph=b"\x00" * 32)  # a low-order X25519 point
    return dataclasses.replace(unsigned, sig=MINION.sign(auth_mod._req_bytes(unsigned)))


def test_low_order_exchange_key_is_an_auth_error_on_the_master() -> None:
    req = _zero_eph_request()
    check_request(req)  # correctly signed by an accepted key
    with pytest.raises(AuthError):
        make_reply(req, ACCEPTED, PARAMS, 1, SESSION)


def test_low_order_master_exchange_key_is_an_auth_error_on_the_minion() -> None:
    req, eph = _request()
    reply, _ = make_reply(req, ACCEPTED, PARAMS, 1, SESSION)
    unsigned = dataclasses.replace(reply, meph=b"\x00" * 32)
    forged = dataclasses.replace(unsigned, sig=MASTER.sign(auth_mod._rep_bytes(unsigned, req)))
    with pytest.raises(AuthError):
        open_reply(forged, req, eph, MASTER.public_key())
