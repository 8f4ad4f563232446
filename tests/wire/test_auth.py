import time

import pytest

from pvc.crypto import Ed25519PrivateKey, public_bytes
from pvc.errors import AuthError
from pvc.wire.auth import ACCEPTED, PENDING, check_request, make_reply, make_request, open_reply
from pvc.wire.messages import AuthReply, AuthRequest


def _exchange(status=ACCEPTED):
    minion, master = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    req, eph = make_request("m1", minion)
    check_request(req, 60)
    reply, channel = make_reply(req, status, master, 4505, key_id=7, session_key=b"k" * 32)
    return minion, master, req, eph, reply, channel


def test_accepted_exchange_gives_both_sides_the_same_keys():
    _, master, _, eph, reply, channel = _exchange()
    grant = open_reply(reply, "m1", eph, master.public_key())
    assert grant.key_id == 7 and grant.session_key == b"k" * 32
    assert grant.channel_key == channel and len(channel) == 32
    assert grant.pub_port == 4505


def test_pending_reply_grants_nothing():
    _, master, _, eph, reply, channel = _exchange(PENDING)
    assert open_reply(reply, "m1", eph, master.public_key()) is None
    assert channel == b"" and reply.wrapped == b""


def test_reply_signed_by_another_master_refused():
    _, _, _, eph, reply, _ = _exchange()
    with pytest.raises(AuthError):
        open_reply(reply, "m1", eph, Ed25519PrivateKey.generate().public_key())


def test_reply_replayed_to_a_new_request_refused():
    minion, master, _, _, reply, _ = _exchange()
    _, new_eph = make_request("m1", minion)
    with pytest.raises(AuthError):
        open_reply(reply, "m1", new_eph, master.public_key())


def test_tampered_status_refused():
    _, master, _, eph, reply, _ = _exchange(PENDING)
    forged = AuthReply(**{**reply.__dict__, "status": ACCEPTED})
    with pytest.raises(AuthError):
        open_reply(forged, "m1", eph, master.public_key())


def test_request_with_foreign_signature_or_old_timestamp_refused():
    minion, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    req, _ = make_request("m1", minion)
    forged = AuthRequest(req.id, public_bytes(other.public_key()), req.eph, req.ts, req.sig)
    with pytest.raises(AuthError):
        check_request(forged, 60)
    renamed = AuthRequest("m2", req.pub, req.eph, req.ts, req.sig)
    with pytest.raises(AuthError):
        check_request(renamed, 60)
    old = AuthRequest(req.id, req.pub, req.eph, time.time() - 3600, req.sig)
    with pytest.raises(AuthError, match="time window"):
        check_request(old, 60)
