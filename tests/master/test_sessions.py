"""pvc.master.sessions: a pending session becomes live on its first box; a live one survives
an auth that is never used; silent sessions expire."""

from __future__ import annotations

import time

import pytest

from pvc.errors import AuthError
from pvc.master.sessions import SessionKey, Sessions
from pvc.wire.codec import decode
from pvc.wire.inner import Bye, Heartbeat
from pvc.wire.messages import MASTER_CHANNEL_KINDS, Sealed
from pvc.wire.sealed import Channel

OLD, NEW = b"o" * 32, b"n" * 32
MAX = 1 << 20


def box(ch: Channel, rec=None) -> Sealed:  # type: ignore[no-untyped-def]
    return Sealed.from_map(decode(ch.seal_up(rec or Heartbeat(["vm1"])), MASTER_CHANNEL_KINDS, MAX))


@pytest.fixture
def sessions() -> Sessions:
    return Sessions(heartbeat=1.0)


def test_pending_session_promoted_on_first_box(sessions: Sessions) -> None:
    sessions.add_pending("web1", OLD, b"pub")
    assert sessions.known("web1") and sessions.get("web1") is None
    minion = Channel("web1", OLD)
    session, body, fresh = sessions.open(box(minion), b"peer1", MAX, 100.0)
    assert fresh and body == Heartbeat(["vm1"])
    assert sessions.get("web1") is session and "web1" not in sessions.pending
    assert session.peer == b"peer1" and session.last_seen == 100.0 and session.pub == b"pub"
    session2, body2, fresh2 = sessions.open(box(minion, Bye()), b"peer2", MAX, 101.0)
    assert session2 is session and not fresh2 and body2 == Bye() and session.peer == b"peer2"


def test_no_session_refused(sessions: Sessions) -> None:
    with pytest.raises(AuthError, match="no session"):
        sessions.open(box(Channel("web1", OLD)), b"p", MAX, 1.0)


def test_pending_not_promoted_by_a_box_under_another_key(sessions: Sessions) -> None:
    sessions.add_pending("web1", OLD, b"pub")
    with pytest.raises(AuthError):
        sessions.open(box(Channel("web1", b"x" * 32)), b"p", MAX, 1.0)
    assert "web1" in sessions.pending and sessions.get("web1") is None


def test_live_session_survives_an_auth_that_is_never_used(sessions: Sessions) -> None:
    t0 = time.monotonic()
    sessions.add_pending("web1", OLD, b"pub")
    minion = Channel("web1", OLD)
    live, _, _ = sessions.open(box(minion), b"p", MAX, t0)
    sessions.add_pending("web1", NEW, b"pub")  # someone completed an auth as web1 ...
    for i in range(3):  # ... but the minion keeps talking on its channel
        s, _, fresh = sessions.open(box(minion), b"p", MAX, t0 + i)
        assert s is live and not fresh
    assert sessions.get("web1") is live and "web1" in sessions.pending
    assert sessions.expire(t0 + 10 * sessions.alive_for + 1) == []  # the unused auth ages out ...
    assert "web1" not in sessions.pending and sessions.get("web1") is live  # ... the live session stays


def test_unused_pending_expires_but_a_live_session_in_use_stays(sessions: Sessions) -> None:
    sessions.add_pending("web1", OLD, b"pub")
    minion = Channel("web1", OLD)
    later = time.monotonic() + 10 * sessions.alive_for + 1
    sessions.open(box(minion), b"p", MAX, later)
    sessions.add_pending("web1", NEW, b"pub")
    sessions.pending["web1"].created = later - 10 * sessions.alive_for - 1
    assert sessions.expire(later) == []
    assert "web1" not in sessions.pending and sessions.get("web1") is not None


def test_new_auth_used_replaces_the_live_session(sessions: Sessions) -> None:
    sessions.add_pending("web1", OLD, b"pub")
    old_minion = Channel("web1", OLD)
    old_box_for_later = box(old_minion)
    live, _, _ = sessions.open(box(old_minion), b"p", MAX, 1.0)
    sessions.add_pending("web1", NEW, b"pub2")
    s, _, fresh = sessions.open(box(Channel("web1", NEW)), b"q", MAX, 2.0)
    assert fresh and s is not live and sessions.get("web1") is s and s.pub == b"pub2"
    with pytest.raises(AuthError):
        sessions.open(old_box_for_later, b"p", MAX, 3.0)  # the old channel is gone


def test_replayed_box_refused_even_with_a_pending_session(sessions: Sessions) -> None:
    sessions.add_pending("web1", OLD, b"pub")
    minion = Channel("web1", OLD)
    first = box(minion)
    sessions.open(first, b"p", MAX, 1.0)
    with pytest.raises(AuthError):
        sessions.open(first, b"p", MAX, 2.0)
    sessions.add_pending("web1", NEW, b"pub")
    with pytest.raises(AuthError):
        sessions.open(first, b"p", MAX, 3.0)
    assert "web1" in sessions.pending  # and the pending one was not promoted by it


def test_expiry_of_silent_live_sessions(sessions: Sessions) -> None:
    sessions.add_pending("web1", OLD, b"pub")
    sessions.add_pending("web2", NEW, b"pub")
    now = time.monotonic()
    sessions.open(box(Channel("web1", OLD)), b"p", MAX, now)
    sessions.open(box(Channel("web2", NEW)), b"p", MAX, now + 5 * sessions.alive_for)
    limit = 10 * sessions.alive_for
    assert sessions.expire(now + limit) == []
    assert sessions.expire(now + limit + 1) == ["web1"]
    assert sessions.get("web1") is None and sessions.get("web2") is not None


def test_connected_needs_a_recent_box_and_a_live_connection(sessions: Sessions) -> None:
    sessions.add_pending("web1", OLD, b"pub")
    minion = Channel("web1", OLD)
    s, _, _ = sessions.open(box(minion), b"p", MAX, 100.0)
    assert sessions.connected(100.0 + sessions.alive_for) == {"web1"}
    assert sessions.connected(100.0 + sessions.alive_for + 0.1) == set()
    s.peer = b""  # a send found its connection gone
    assert sessions.connected(100.0) == set() == sessions.connected_among(["web1"], 100.0)
    sessions.open(box(minion), b"q", MAX, 101.0)  # its next box, on a new connection
    assert sessions.connected(101.0) == {"web1"} and s.peer == b"q"


def test_drop(sessions: Sessions) -> None:
    sessions.add_pending("web1", OLD, b"pub")
    s, _, _ = sessions.open(box(Channel("web1", OLD)), b"p", MAX, 1.0)
    sessions.add_pending("web1", NEW, b"pub")
    assert sessions.drop("web1") is s
    assert not sessions.known("web1") and sessions.drop("web1") is None


def test_session_key_rotation() -> None:
    key = SessionKey()
    kid, raw = key.key_id, key.key
    assert kid > 1_700_000_000_000 and len(raw) == 32
    key.rotate()
    assert key.key_id == kid + 1 and key.key != raw


def test_heartbeat_pace_grows_with_the_fleet() -> None:
    """The master asks for max(heartbeat, minions / heartbeat_rate): at 10,000 minions and a
    budget of 1,000 heartbeats per second, one every 10 s; a small fleet beats as configured."""
    sessions = Sessions(heartbeat=2.0, heartbeat_rate=1000.0)
    assert sessions.pace() == 2.0
    for i in range(10_000):
        sessions.by_id[f"m{i}"] = _session(sessions, f"m{i}")
    assert sessions.pace() == pytest.approx(10.0)
    assert Sessions(heartbeat=2.0).pace() == 2.0  # no budget given: as configured


def _session(sessions: Sessions, mid: str):  # type: ignore[no-untyped-def]
    sessions.add_pending(mid, OLD, b"pub")
    return sessions.pending.pop(mid)


def test_a_session_is_judged_by_the_pace_asked_of_it(sessions: Sessions) -> None:
    """A minion told to beat every 10 s stays connected for three missed beats of 10 s, not of
    the configured 1 s; one still at the configured pace keeps the short window."""
    t0 = time.monotonic()
    for mid, key in (("slow", OLD), ("fast", NEW)):
        sessions.add_pending(mid, key, b"pub")
        sessions.open(box(Channel(mid, key)), b"p", MAX, t0)
    sessions.by_id["slow"].every = 10.0
    assert sessions.connected(t0 + 30.0) == {"slow"}
    assert sessions.connected(t0 + 31.1) == set()
    assert sessions.expire(t0 + 10 * sessions.alive_for + 1) == ["fast"]
    assert sessions.expire(t0 + 10 * 31.0 + 1) == ["slow"]


def test_connected_among_judges_only_the_ids_asked(sessions: Sessions) -> None:
    t0 = time.monotonic()
    for mid, key in (("web1", OLD), ("web2", NEW)):
        sessions.add_pending(mid, key, b"pub")
        sessions.open(box(Channel(mid, key)), b"p", MAX, t0)
    sessions.by_id["web2"].peer = b""
    assert sessions.connected_among(["web1", "web2", "nobody"], t0) == {"web1"} == sessions.connected(t0)
    assert sessions.connected_among(["web1"], t0 + sessions.alive_for + 0.1) == set()
