"""Who is authenticated right now, and the current publication (session) key.

A session holds the per-minion channel, the ZeroMQ routing id of the minion's channel
connection (bound to the minion by CURVE; empty once a send found that connection gone),
when it was last heard from, and the VMs it says
it holds. A new auth creates a *pending* session; the minion's live session is replaced only
when the minion's first box opens under the pending channel, which only the minion that made
the new key exchange can produce. The session key rotates when a key is deleted or rejected;
the new key reaches the remaining minions through their channels (one cheap AEAD box each)
instead of a fleet-wide re-auth.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from pvc.crypto import Aead, random_key
from pvc.errors import AuthError
from pvc.wire.inner import RunningJob
from pvc.wire.messages import Sealed
from pvc.wire.record import Record
from pvc.wire.sealed import Channel


@dataclass(slots=True)  # one per minion: no __dict__ each
class Session:
    channel: Channel
    pub: bytes
    peer: bytes = b""
    last_seen: float = float("-inf")
    created: float = 0.0
    vms: frozenset[str] = field(default_factory=frozenset)
    running: dict[str, RunningJob] = field(default_factory=dict)  # jid -> job, as of the last heartbeat
    last_hb: float = float("-inf")
    skew: float = 0.0  # the minion's clock minus the master's, seconds (from its heartbeats)
    every: float = 0.0  # the heartbeat interval last asked of it (0: its configured one)


class SessionKey:
    def __init__(self) -> None:
        self.key_id = int(time.time() * 1000)  # a restarted master never reuses an id
        self.key = random_key()
        self.aead = Aead(self.key)

    def rotate(self) -> None:
        self.key_id += 1
        self.key = random_key()
        self.aead = Aead(self.key)


class Sessions:
    """The sessions, and the heartbeat pace of the fleet.

    Heartbeats cost the master a box to open and one to seal each; at a fixed interval their
    load grows with the fleet until it crowds out jobs. So the master asks each minion (in its
    pong) to beat every ``max(heartbeat, minions / heartbeat_rate)`` seconds, and judges each
    session by the interval it last asked of it. A closed connection is still seen by the
    first send to it (the channel is a ROUTER with ``ROUTER_MANDATORY``: libzmq refuses a
    message for a connection it has dropped, and the transport's own heartbeats drop a dead
    one), so a job never waits for a minion whose connection is gone; the application
    heartbeat only has to catch a minion whose loop hangs, and carries its VMs and running jobs.
    """

    def __init__(self, heartbeat: float, heartbeat_rate: float = float("inf")) -> None:
        self.key = SessionKey()
        self.by_id: dict[str, Session] = {}
        self.pending: dict[str, Session] = {}
        self.heartbeat = heartbeat
        self.heartbeat_rate = heartbeat_rate
        self.alive_for = 3 * heartbeat + 1.0  # the window of a session beating at ``heartbeat``

    def pace(self, expected: int = 0) -> float:
        """The heartbeat interval to ask of a minion now (seconds); ``expected``: the fleet
        about to connect (after a restart the accepted keys, before their sessions exist)."""
        return max(self.heartbeat, max(len(self.by_id), expected) / self.heartbeat_rate)

    def window(self, s: Session) -> float:
        """How long ``s`` may stay silent and still count as alive: three missed beats at the
        pace last asked of it (never shorter than at ``heartbeat``)."""
        return 3 * max(self.heartbeat, s.every) + 1.0

    def add_pending(self, mid: str, channel_key: bytes, pub: bytes) -> bool:
        """A session for ``mid``'s new auth; True if it replaced one the minion never used."""
        replaced = mid in self.pending
        self.pending[mid] = Session(Channel(mid, channel_key), pub, created=time.monotonic())
        return replaced

    def open(self, box: Sealed, peer: bytes, max_size: int, now: float) -> tuple[Session, Record, bool]:
        """Open a box from minion ``box.id``: under its live channel, else under its pending
        one (which then becomes live). Returns the session, the body and whether the session
        is new. Raises AuthError when neither channel opens it."""
        mid = box.id
        live = self.by_id.get(mid)
        if live is not None:
            try:
                body = live.channel.open_up(box, max_size)
            except AuthError:
                if mid not in self.pending:
                    raise
            else:
                live.peer, live.last_seen = peer, now
                return live, body, False
        fresh = self.pending.get(mid)
        if fresh is None:
            raise AuthError(f"no session for minion {mid}")
        body = fresh.channel.open_up(box, max_size)
        del self.pending[mid]
        fresh.peer, fresh.last_seen = peer, now
        self.by_id[fresh.channel.mid] = fresh
        return fresh, body, True

    def known(self, mid: str) -> bool:
        return mid in self.by_id or mid in self.pending

    def get(self, mid: str) -> Session | None:
        return self.by_id.get(mid)

    def drop(self, mid: str) -> Session | None:
        self.pending.pop(mid, None)
        return self.by_id.pop(mid, None)

    def running(self, mid: str, jid: str) -> bool:
        """Minion ``mid`` is alive and said in its last heartbeat that it runs ``jid``."""
        return jid in self._running(mid)

    def running_on(self, mid: str) -> list[RunningJob]:
        return list(self._running(mid).values())

    def _running(self, mid: str) -> dict[str, RunningJob]:
        """What ``mid``'s last heartbeat said it runs, while that heartbeat is recent."""
        s = self.by_id.get(mid)
        if s is None or time.monotonic() - s.last_hb > self.window(s):
            return {}
        return s.running

    def connected(self, now: float | None = None) -> set[str]:
        now = time.monotonic() if now is None else now
        return {mid for mid, s in self.by_id.items() if s.peer and now - s.last_seen <= self.window(s)}

    def connected_among(self, ids: Iterable[str], now: float | None = None) -> set[str]:
        """Those of ``ids`` that are connected: costs O(len(ids)), not O(fleet), so a job for a
        few named minions stays cheap on a master with 10,000."""
        now = time.monotonic() if now is None else now
        return {mid for mid in ids if (s := self.by_id.get(mid)) is not None and s.peer
                and now - s.last_seen <= self.window(s)}

    def expire(self, now: float) -> list[str]:
        """Forget sessions silent for much longer than the liveness window (and pending ones
        never used); return the ids of live sessions that ended."""
        for mid in [m for m, s in self.pending.items() if now - s.created > 10 * self.window(s)]:
            del self.pending[mid]
        gone = [mid for mid, s in self.by_id.items() if now - max(s.last_seen, s.created) > 10 * self.window(s)]
        for mid in gone:
            del self.by_id[mid]
        return gone
