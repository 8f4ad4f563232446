"""pvc.master.auth: challenges (bound to the connection, single use, short-lived, unforgeable)
and the enrolment queue (one request per connection, FIFO, bounded), without a daemon.

``Enrolment.on_message`` raises ProtocolError, AuthError or InvalidMinionId for anything that
must end the connection (the enrolment port closes it, tests/master/test_enrolport.py); what
it raised for must leave no trace: nothing sent, nothing queued."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import pytest

import pvc.master.auth as auth_mod
from pvc import events
from pvc.config import MasterConfig
from pvc.crypto import Ed25519PrivateKey, curve_keypair, public_bytes
from pvc.errors import AuthError, InvalidMinionId, ProtocolError
from pvc.master.auth import CHALLENGE_TTL, Challenges, Enrolment
from pvc.master.keystore import KeyStore
from pvc.master.sessions import Sessions
from pvc.wire import auth as wire_auth
from pvc.wire.auth import (
    ACCEPTED,
    DENIED,
    PENDING,
    Offer,
    ReplyParams,
    make_request,
    open_reply,
)
from pvc.wire.codec import decode
from pvc.wire.messages import (
    MINION_ENROL_KINDS,
    AuthReply,
    AuthRequest,
    Busy,
    Challenge,
    Hello,
    Sealed,
)

MASTER = Ed25519PrivateKey.generate()


class FakeZap:
    def __init__(self) -> None:
        self.allowed: list[tuple[str, bytes]] = []

    def allow(self, mid: str, curve: bytes) -> None:
        self.allowed.append((mid, curve))


class Harness:
    def __init__(self, tmp: Path, **cfg: Any) -> None:
        self.cfg = MasterConfig(**{"auth_rate": 10_000.0, **cfg})
        self.keys = KeyStore(str(tmp / "pki"))
        self.sessions = Sessions(heartbeat=1.0)
        self.zap = FakeZap()
        self.sent: list[tuple[bytes, bytes]] = []
        self.fired: list[tuple[str, dict]] = []
        self.params = ReplyParams(MASTER, 4507, curve_keypair(MASTER)[1])
        self.enrol = Enrolment(self.cfg, self.params, self.keys, self.sessions, self.zap,  # type: ignore[arg-type]
                               lambda peer, data: self.sent.append((peer, data)),
                               lambda tag, data: self.fired.append((tag, data)))

    def challenge(self, peer: bytes) -> bytes:
        self.enrol.on_message(peer, Hello().encode())
        to, data = self.sent.pop()
        assert to == peer
        return Challenge.from_map(decode(data, MINION_ENROL_KINDS, 4096)).c

    def request(self, peer: bytes, mid: str, identity: Ed25519PrivateKey, chal: bytes | None = None) -> tuple[AuthRequest, Any]:
        chal = self.challenge(peer) if chal is None else chal
        req, eph = make_request(Offer(mid, identity, curve_keypair(identity)[1]), chal)
        self.enrol.on_message(peer, req.encode())
        return req, eph

    def replies(self) -> list[tuple[bytes, AuthReply]]:
        out = [(peer, AuthReply.from_map(decode(data, MINION_ENROL_KINDS, 4096))) for peer, data in self.sent]
        self.sent.clear()
        return out


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness(tmp_path, auto_accept=True)


# -- Challenges alone --------------------------------------------------------------------------

def test_challenge_round_trip_and_single_use() -> None:
    ch = Challenges()
    c = ch.issue(b"peer-a", 1000.0)
    assert len(c) == 32
    ch.consume(c, b"peer-a", 1001.0)
    with pytest.raises(AuthError, match="already used"):
        ch.consume(c, b"peer-a", 1002.0)


def test_two_challenges_for_one_connection_differ() -> None:
    ch = Challenges()
    assert ch.issue(b"peer-a", 1000.0) != ch.issue(b"peer-a", 1000.0)


def test_challenge_bound_to_the_connection() -> None:
    ch = Challenges()
    c = ch.issue(b"peer-a", 1000.0)
    with pytest.raises(AuthError, match="not given"):
        ch.consume(c, b"peer-b", 1000.0)
    ch.consume(c, b"peer-a", 1000.0)  # the failed attempt did not use it up


def test_challenge_expires() -> None:
    ch = Challenges()
    c = ch.issue(b"p", 1000.0)
    with pytest.raises(AuthError, match="expired"):
        ch.consume(c, b"p", 1000.0 + CHALLENGE_TTL + 0.01)
    c2 = ch.issue(b"p", 1000.0)
    ch.consume(c2, b"p", 1000.0 + CHALLENGE_TTL)


def test_forged_challenges_refused() -> None:
    ch = Challenges()
    good = ch.issue(b"p", 1000.0)
    for forged in (os.urandom(32), good[:8] + bytes(24), good[:-1] + bytes([good[-1] ^ 1]),
                   (2000_000).to_bytes(8, "big") + good[8:], Challenges().issue(b"p", 1000.0)):
        with pytest.raises(AuthError, match="not given"):
            ch.consume(forged, b"p", 1000.0)


def test_used_challenges_are_forgotten_after_they_expire() -> None:
    ch = Challenges()
    for i in range(100):
        ch.consume(ch.issue(b"p", 1000.0 + i), b"p", 1000.0 + i)
    ch.consume(ch.issue(b"p", 5000.0), b"p", 5000.0)
    assert len(ch._used) == 1


def test_used_set_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_mod, "USED_MAX", 10)
    ch = Challenges()
    for i in range(50):
        ch.consume(ch.issue(b"p", 1000.0 + i / 100), b"p", 1000.0 + i / 100)
    assert len(ch._used) <= 10


# -- the enrolment exchange -------------------------------------------------------------------

def test_accepted_exchange(h: Harness) -> None:
    ident = Ed25519PrivateKey.generate()
    req, eph = h.request(b"A", "web1", ident)
    assert not h.sent and list(h.enrol.queue) == [b"A"]  # nothing expensive before serve
    h.enrol.serve(time.monotonic())
    [(peer, reply)] = h.replies()
    assert peer == b"A" and reply.status == ACCEPTED
    grant = open_reply(reply, req, eph, MASTER.public_key())
    assert grant is not None and grant.session_key == h.sessions.key.key and grant.key_id == h.sessions.key.key_id
    assert "web1" in h.sessions.pending and "web1" not in h.sessions.by_id
    assert h.sessions.pending["web1"].channel.mid == "web1"
    assert h.zap.allowed == [("web1", curve_keypair(ident)[1])]
    assert h.fired == [(events.AUTH, {"id": "web1", "status": ACCEPTED})]
    assert h.keys.get("web1", ACCEPTED) == public_bytes(ident.public_key())


def test_pending_exchange(tmp_path: Path) -> None:
    h = Harness(tmp_path, auto_accept=False)
    ident = Ed25519PrivateKey.generate()
    req, eph = h.request(b"A", "web1", ident)
    h.enrol.serve(time.monotonic())
    [(_, reply)] = h.replies()
    assert reply.status == PENDING and reply.wrapped == b""
    assert open_reply(reply, req, eph, MASTER.public_key()) is None
    assert not h.sessions.known("web1") and not h.zap.allowed
    assert h.keys.get("web1", PENDING) == public_bytes(ident.public_key())
    h.keys.accept("web1")
    req, eph = h.request(b"A", "web1", ident)
    h.enrol.serve(time.monotonic())
    [(_, reply)] = h.replies()
    assert open_reply(reply, req, eph, MASTER.public_key()) is not None


def test_second_key_for_an_accepted_id_is_denied(h: Harness) -> None:
    h.request(b"A", "web1", Ed25519PrivateKey.generate())
    h.enrol.serve(time.monotonic())
    h.replies()
    h.sessions.pending.clear()
    h.request(b"B", "web1", Ed25519PrivateKey.generate())
    h.enrol.serve(time.monotonic())
    [(_, reply)] = h.replies()
    assert reply.status == DENIED and not h.sessions.pending


def test_request_on_another_connection_refused(h: Harness) -> None:
    chal = h.challenge(b"A")
    with pytest.raises(AuthError, match="not given"):
        h.request(b"B", "web1", Ed25519PrivateKey.generate(), chal=chal)
    assert not h.enrol.queue and not h.sent


def test_request_replayed_refused(h: Harness) -> None:
    ident = Ed25519PrivateKey.generate()
    req, _ = h.request(b"A", "web1", ident)
    h.enrol.serve(time.monotonic())
    h.replies()
    with pytest.raises(AuthError, match="already used"):
        h.enrol.on_message(b"A", req.encode())  # the same request again, same connection
    assert not h.enrol.queue
    h.enrol.serve(time.monotonic())
    assert not h.sent


def test_expired_challenge_refused(h: Harness) -> None:
    chal = h.enrol.challenges.issue(b"A", time.time() - CHALLENGE_TTL - 1)
    with pytest.raises(AuthError, match="expired"):
        h.request(b"A", "web1", Ed25519PrivateKey.generate(), chal=chal)
    assert not h.enrol.queue and not h.sent


def test_forged_challenge_refused(h: Harness) -> None:
    with pytest.raises(AuthError, match="not given"):
        h.request(b"A", "web1", Ed25519PrivateKey.generate(), chal=os.urandom(32))
    assert not h.enrol.queue and not h.sent


def test_bad_signature_refused_at_serve(h: Harness) -> None:
    ident = Ed25519PrivateKey.generate()
    req, _ = make_request(Offer("web1", ident, b"\x00" * 32), h.challenge(b"A"))
    h.enrol.on_message(b"A", dataclasses.replace(req, sig=bytes(64)).encode())
    assert list(h.enrol.queue) == [b"A"]  # the signature is the expensive part: checked in turn
    h.enrol.serve(time.monotonic())
    assert not h.sent and h.enrol.stats.refused == 1 and not h.sessions.known("web1")


def test_a_request_whose_connection_closed_is_dropped_unserved(tmp_path: Path) -> None:
    """A minion that gave up waiting (its connection closed) asks again on a new one: the old
    request costs no signature check, no auth token and no answer (no auth answered twice)."""
    h = Harness(tmp_path, auto_accept=True, auth_rate=1.0)
    h.enrol.bucket.tokens = 1.0
    h.enrol.open_conn = lambda peer: peer != b"A"
    h.request(b"A", "web1", Ed25519PrivateKey.generate())
    h.request(b"B", "web2", Ed25519PrivateKey.generate())
    h.enrol.serve(time.monotonic())
    [(peer, reply)] = h.replies()
    assert peer == b"B" and reply.status == ACCEPTED and not h.enrol.queue
    assert not h.sessions.known("web1") and h.keys.get("web1", ACCEPTED) is None
    assert (h.enrol.stats.abandoned, h.enrol.stats.accepted) == (1, 1)  # web1's request was lost to it


@pytest.mark.parametrize("payload", [b"\xc1", b"x" * 5000, Sealed("web1", 0, b"").encode(),
                                     Challenge(bytes(32)).encode()])
def test_garbage_and_wrong_kinds_refused(h: Harness, payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        h.enrol.on_message(b"A", payload)
    assert not h.sent and not h.enrol.queue


@pytest.mark.parametrize("mid", ["../etc/passwd", "", "a/b", "..", "-x"])
def test_invalid_ids_refused_before_the_queue(h: Harness, mid: str) -> None:
    chal = h.challenge(b"A")
    with pytest.raises(InvalidMinionId):
        h.request(b"A", mid, Ed25519PrivateKey.generate(), chal=chal)
    assert not h.enrol.queue and not h.sent
    h.request(b"A", "web1", Ed25519PrivateKey.generate(), chal=chal)  # checked before the challenge was used
    assert list(h.enrol.queue) == [b"A"]


def test_per_connection_rate(h: Harness) -> None:
    raised = 0
    for _ in range(100):
        try:
            h.enrol.on_message(b"A", Hello().encode())
        except ProtocolError as exc:
            assert "too many" in str(exc)
            raised += 1
    assert len(h.sent) <= 2 * auth_mod.ENROL_RATE + 1
    assert raised == 100 - len(h.sent)
    h.challenge(b"B")  # per connection: another one is not affected


# -- the queue -----------------------------------------------------------------------------------

def test_one_request_per_connection(h: Harness) -> None:
    ident = Ed25519PrivateKey.generate()
    h.request(b"A", "web1", ident)
    second, eph = h.request(b"A", "web1", ident)
    assert list(h.enrol.queue) == [b"A"] and h.enrol.queue[b"A"] == second
    h.enrol.serve(time.monotonic())
    [(_, reply)] = h.replies()
    assert open_reply(reply, second, eph, MASTER.public_key()) is not None


def test_served_fifo_round_robin(h: Harness) -> None:
    for peer, mid in ((b"A", "a1"), (b"B", "b1"), (b"C", "c1")):
        h.request(peer, mid, Ed25519PrivateKey.generate())
    h.request(b"A", "a1", Ed25519PrivateKey.generate())  # A again: keeps its turn, no second one
    h.enrol.serve(time.monotonic(), budget=2)
    assert [peer for peer, _ in h.replies()] == [b"A", b"B"]
    h.request(b"A", "a2", Ed25519PrivateKey.generate())  # served A comes back: behind C
    h.enrol.serve(time.monotonic())
    assert [peer for peer, _ in h.replies()] == [b"C", b"A"]


def test_queue_bounded(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_mod, "MAX_QUEUED", 2)
    for peer in (b"A", b"B"):
        h.request(peer, "m" + peer.decode(), Ed25519PrivateKey.generate())
    h.enrol.on_message(b"C", Hello().encode())
    [(to, data)] = h.sent
    assert to == b"C" and Busy.from_map(decode(data, MINION_ENROL_KINDS, 4096)).wait > 0  # no challenge
    h.sent.clear()
    assert list(h.enrol.queue) == [b"A", b"B"]
    h.request(b"A", "mA", Ed25519PrivateKey.generate())  # a queued connection may still replace its own
    assert list(h.enrol.queue) == [b"A", b"B"]  # and keeps its turn


def test_a_herd_told_busy_is_given_come_back_times_at_the_serving_rate(h: Harness,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Each minion refused for a full queue gets its own slot: after the queued work, one per
    1/served_rate, so they come back spread out instead of all retrying at once; never more than
    a minute."""
    monkeypatch.setattr(auth_mod, "MAX_QUEUED", 10)
    h.enrol.served_rate = 100.0
    for i in range(10):
        h.request(bytes([i]), f"m{i}", Ed25519PrivateKey.generate())
    for i in range(50):
        h.enrol.on_message(b"late%d" % i, Hello().encode())
    waits = [Busy.from_map(decode(data, MINION_ENROL_KINDS, 4096)).wait for _, data in h.sent]
    assert len(waits) == 50 and waits[0] == pytest.approx(10 / 100.0, abs=0.02)  # after the queue
    assert all(b - a == pytest.approx(0.01, abs=0.005) for a, b in zip(waits, waits[1:], strict=False))
    h.sent.clear()
    h.enrol.served_rate = 1.0
    for i in range(100):
        h.enrol.on_message(b"later%d" % i, Hello().encode())
    assert max(Busy.from_map(decode(data, MINION_ENROL_KINDS, 4096)).wait for _, data in h.sent) == 60.0


def test_the_queue_holds_seconds_of_work_at_the_rate_achieved(tmp_path: Path) -> None:
    """A loaded master serves fewer auths than ``auth_rate``: the queue shrinks to what it can
    serve in QUEUE_SECONDS (a request queued longer would outlive its connection), so a large
    fleet is told "busy" at hello and backs off instead of queueing for nothing; without a
    backlog the limit drifts back up."""
    h = Harness(tmp_path, auto_accept=True, auth_rate=500.0)
    assert h.enrol.queue_limit() == int(500 * auth_mod.QUEUE_SECONDS)
    h.enrol.served_rate = 20.0  # what the loop achieved
    limit = h.enrol.queue_limit()
    assert limit == max(auth_mod.MIN_QUEUED, int(20 * auth_mod.QUEUE_SECONDS))
    for i in range(limit):
        h.request(i.to_bytes(4, "big"), f"m{i}", Ed25519PrivateKey.generate())
    h.enrol.on_message(b"late", Hello().encode())  # told to come back before any challenge or signature
    assert Busy.from_map(decode(h.sent.pop()[1], MINION_ENROL_KINDS, 4096)).wait > 0
    t0 = time.monotonic()
    h.enrol._window = (t0 - 1.0, 0)
    h.enrol.bucket = auth_mod.TokenBucket(5.0, 5.0, t0)  # a slow master: 5 per second
    h.enrol.serve(t0)
    assert h.enrol.served_rate < 20.0  # measured while a backlog waited
    h.enrol.queue.clear()
    h.enrol._window = (t0, 0)
    h.enrol.serve(t0 + 1.0)
    assert h.enrol.served_rate > 5.0  # no backlog: back up towards auth_rate


def test_serve_rate_limited(tmp_path: Path) -> None:
    h = Harness(tmp_path, auto_accept=True, auth_rate=2.0)
    for i in range(5):
        h.request(bytes([65 + i]), f"m{i}", Ed25519PrivateKey.generate())
    h.enrol.serve(time.monotonic())
    assert len(h.replies()) == 2 and len(h.enrol.queue) == 3


def _low_order_request(h: Harness, peer: bytes, mid: str) -> None:
    ident = Ed25519PrivateKey.generate()
    req, _ = make_request(Offer(mid, ident, b"\x00" * 32), h.challenge(peer))
    unsigned = dataclasses.replace(req, eph=bytes(32))
    h.enrol.on_message(peer, dataclasses.replace(unsigned, sig=ident.sign(wire_auth._req_bytes(unsigned))).encode())


def test_low_order_exchange_key_refused_and_the_queue_keeps_going(h: Harness) -> None:
    _low_order_request(h, b"A", "evil")
    h.request(b"B", "web1", Ed25519PrivateKey.generate())
    h.enrol.serve(time.monotonic())
    assert [peer for peer, _ in h.replies()] == [b"B"]
    assert h.enrol.stats.refused == 1 and not h.sessions.known("evil")


def test_enrolment_counts_are_reported_when_they_change(h: Harness) -> None:
    """``pvc/master/enrolment`` carries cumulative counts; an id accepted again before it used its
    first answer counts as answered twice (``repeated``); nothing changed, nothing fired."""
    ident = Ed25519PrivateKey.generate()
    h.request(b"A", "web1", ident)
    h.enrol.serve(time.monotonic())
    h.request(b"B", "web1", ident)  # asked again: the first answer was never used
    h.fired.clear()
    h.enrol.report()
    assert h.fired == [(events.ENROLMENT, {"accepted": 1, "repeated": 0, "answered": 0, "refused": 0, "busy": 0,
                                           "abandoned": 0, "queued": 1})]
    h.enrol.serve(time.monotonic())
    h.fired.clear()
    h.enrol.report()
    h.enrol.report()
    [(tag, counts)] = h.fired
    assert tag == events.ENROLMENT and counts["accepted"] == 2 and counts["repeated"] == 1 and counts["queued"] == 0


def test_the_reply_asks_the_pace_of_the_whole_accepted_fleet(tmp_path: Path) -> None:
    """After a restart no session exists yet, but 3 keys are accepted: the pace is asked for
    the fleet that is coming back (3 / heartbeat_rate), not for the 0 sessions of this second."""
    h = Harness(tmp_path, auto_accept=True)
    h.sessions.heartbeat_rate = 0.5
    for mid in ("a", "b"):
        h.keys.put(ACCEPTED, mid, public_bytes(Ed25519PrivateKey.generate().public_key()))
    req, _ = h.request(b"A", "web1", Ed25519PrivateKey.generate())
    h.enrol.serve(time.monotonic())
    [(_, reply)] = h.replies()
    assert reply.status == ACCEPTED and reply.every == 3 / 0.5


def test_a_backlog_says_when_the_next_auth_can_be_served(tmp_path: Path) -> None:
    """What the master's loop sleeps on (instead of spinning while the queue waits on auth_rate)."""
    h = Harness(tmp_path, auto_accept=True, auth_rate=2.0)
    now = time.monotonic()
    assert h.enrol.due_in(now) is None  # nothing queued: nothing to wake up for
    for i in range(3):
        h.request(bytes([65 + i]), f"m{i}", Ed25519PrivateKey.generate())
    assert h.enrol.due_in(now) == 0.0  # tokens saved up: serve now
    h.enrol.serve(now)
    assert len(h.replies()) == 2 and h.enrol.due_in(now) == 0.5  # the next token in half a second
