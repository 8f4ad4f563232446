"""Who is authenticated right now, and the current publication (session) key.

A session is created by a successful auth and holds the per-minion channel, the ZMQ routing
identity last seen for that minion (it changes when the minion reconnects) and a last-seen
time from heartbeats. The session key rotates when a key is deleted or rejected; the new key
reaches the remaining minions through their channels (one cheap AEAD box each) instead of a
fleet-wide re-auth.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pvc.crypto import Aead, random_key
from pvc.wire.sealed import Channel


@dataclass
class Session:
    channel: Channel
    peer: bytes
    pub: bytes
    # a session counts as live only once the minion has used its channel (its first sealed
    # message proves it accepted this master's reply)
    last_seen: float = float("-inf")
    created: float = 0.0


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
    def __init__(self, heartbeat: float) -> None:
        self.key = SessionKey()
        self.by_id: dict[str, Session] = {}
        self.subscribed: set[str] = set()  # ids whose publication topic has a live subscriber
        self.alive_for = 3 * heartbeat + 1.0

    def add(self, mid: str, channel_key: bytes, peer: bytes, pub: bytes) -> None:
        self.by_id[mid] = Session(Channel(mid, channel_key), peer, pub, created=time.monotonic())

    def get(self, mid: str) -> Session | None:
        return self.by_id.get(mid)

    def drop(self, mid: str) -> Session | None:
        return self.by_id.pop(mid, None)

    def connected(self, now: float | None = None) -> set[str]:
        now = time.monotonic() if now is None else now
        return {mid for mid, s in self.by_id.items()
                if now - s.last_seen <= self.alive_for and mid in self.subscribed}

    def expire(self, now: float) -> list[str]:
        """Forget sessions silent for much longer than the liveness window; return their ids."""
        gone = [mid for mid, s in self.by_id.items() if now - max(s.last_seen, s.created) > 10 * self.alive_for]
        for mid in gone:
            del self.by_id[mid]
        return gone
