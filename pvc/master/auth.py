"""Serving auth requests, the only thing an unauthenticated peer can ask for.

Requests wait in a bounded queue and are served at ``auth_rate`` per second, after returns and
client requests, so a flood of fake ids delays new auths but never the jobs of connected
minions. Bad ids, bad signatures and stale timestamps are dropped without an answer.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from pvc.config import MasterConfig
from pvc.crypto import Ed25519PrivateKey
from pvc.errors import AuthError, InvalidMinionId, PvcError
from pvc.ids import validate_minion_id
from pvc.master.keystore import KeyStore
from pvc.master.ratelimit import TokenBucket
from pvc.master.sessions import Sessions
from pvc.wire.auth import ACCEPTED, check_request, make_reply
from pvc.wire.messages import AuthRequest

log = logging.getLogger(__name__)
AUTH_QUEUE = 10_000
AUTH_WINDOW = 300.0


class AuthServer:
    def __init__(self, cfg: MasterConfig, identity: Ed25519PrivateKey, keys: KeyStore, sessions: Sessions,
                 send: Callable[[bytes, bytes], None], fire: Callable[[str, dict], None]) -> None:
        self.cfg = cfg
        self.identity = identity
        self.keys = keys
        self.sessions = sessions
        self.send = send
        self.fire = fire
        self.queue: deque[tuple[bytes, AuthRequest]] = deque(maxlen=AUTH_QUEUE)
        self.bucket = TokenBucket(cfg.auth_rate, cfg.auth_rate)
        self.on_accept: Callable[[str], None] = lambda mid: None

    def submit(self, peer: bytes, req: AuthRequest) -> None:
        self.queue.append((peer, req))

    def serve(self, now: float, budget: int = 200) -> None:
        while self.queue and budget > 0 and self.bucket.take(1.0, now):
            budget -= 1
            peer, req = self.queue.popleft()
            try:
                self._serve_one(peer, req)
            except (AuthError, InvalidMinionId) as exc:
                log.info("auth refused: %s", exc)
            except PvcError as exc:  # e.g. a corrupt key file: refuse this one, keep serving
                log.error("auth of %r failed: %s", req.id, exc)

    def _serve_one(self, peer: bytes, req: AuthRequest) -> None:
        mid = validate_minion_id(req.id)
        check_request(req, AUTH_WINDOW)
        state = self.keys.offer(mid, req.pub, self.cfg.auto_accept, self.cfg.max_pending_keys)
        if state == ACCEPTED:
            reply, channel = make_reply(req, state, self.identity, self.cfg.publish_port,
                                        self.sessions.key.key_id, self.sessions.key.key)
            self.sessions.add(mid, channel, peer, req.pub)
            self.on_accept(mid)
        else:
            reply, _ = make_reply(req, state, self.identity, self.cfg.publish_port)
        self.send(peer, reply.encode())
        log.info("auth %s: %s", mid, state)
        self.fire("pvc/auth", {"id": mid, "status": state})
        if state == ACCEPTED:
            self.fire(f"pvc/minion/{mid}/start", {"id": mid})
