"""One minion identity's protocol state machine, driven by an external I/O loop.

Kept separate from the loop so that one process can drive many identities through exactly
this code (the benchmark's 1,000-minion swarm) and a normal minion drives one.

States: ``new`` (must send auth) -> ``waiting`` (auth sent) -> ``authed`` (has the session key
and its channel). A ``reauth`` hint, an unknown future key id that no ``rekey`` explains, or a
silent master sends it back to ``new``.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import zmq

from pvc.config import MinionConfig
from pvc.crypto import Aead, Ed25519PrivateKey, X25519PrivateKey
from pvc.errors import AuthError, InvalidTarget, ProtocolError
from pvc.minion.functions import MinionFunctions
from pvc.minion.pin import MasterPin
from pvc.minion.runner import JobRunner
from pvc.results import Return
from pvc.targeting import Target, compile_target
from pvc.wire.auth import ACCEPTED, make_request, open_reply
from pvc.wire.codec import decode
from pvc.wire.messages import MINION_PUB_KINDS, MINION_REQ_KINDS, AuthReply, Publication, Sealed
from pvc.wire.publication import BROADCAST, check_signature, open_job, topic_for
from pvc.wire.replay import ReplayGuard
from pvc.wire.sealed import Channel

log = logging.getLogger(__name__)
AUTH_REPLY_TIMEOUT = 5.0
RESEND_AFTER = 3.0
MAX_SENDS = 5
STASH_MAX = 256
STASH_WAIT = 1.0


@lru_cache(maxsize=1024)
def _target(tgt: Any, tgt_type: str) -> Target:
    return compile_target(tgt, tgt_type)


class MinionCore:
    def __init__(self, cfg: MinionConfig, identity: Ed25519PrivateKey, functions: MinionFunctions,
                 runner: JobRunner, zctx: zmq.Context, register: Any) -> None:
        self.cfg = cfg
        self.id = cfg.id
        self.identity = identity
        self.functions = functions
        self.runner = runner
        self.zctx = zctx
        self.register = register
        self.pin = MasterPin(cfg.pki_dir, cfg.master_finger)
        self.replay = ReplayGuard(cfg.pub_window)
        self.state = "new"
        self.next_action = 0.0
        self.eph: X25519PrivateKey | None = None
        self.channel: Channel | None = None
        self.kid = -1
        self.aead: Aead | None = None
        self.sub: zmq.Socket | None = None
        self.last_hb = 0.0
        self.unacked: OrderedDict[str, list[Any]] = OrderedDict()
        self.stash: list[tuple[float, Publication]] = []
        self.dealer = self._socket(zmq.DEALER)
        self.dealer.connect(f"tcp://{cfg.master}:{cfg.master_port}")
        register(self.dealer, self)

    def _socket(self, kind: int) -> zmq.Socket:
        sock = self.zctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, self.cfg.max_message_size)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        sock.setsockopt(zmq.HEARTBEAT_IVL, 2000)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 6000)
        return sock

    # -- timers -----------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        if self.state == "new" or (self.state == "waiting" and now >= self.next_action):
            if now >= self.next_action:
                self._send_auth(now)
        elif self.state == "authed":
            if now - self.last_hb >= self.cfg.heartbeat:
                self.last_hb = now
                self._send_up("hb", {})
            if self.stash and now - self.stash[0][0] > STASH_WAIT:
                log.info("%s: publications under an unknown key; re-authenticating", self.id)
                self.stash.clear()
                self._reset()
        if self.unacked:
            self._resend(now)

    def _resend(self, now: float) -> None:
        """Send again the returns the master has not acknowledged (it stores before it acks)."""
        for jid, entry in list(self.unacked.items()):
            body, sent, tries = entry
            if now - sent < RESEND_AFTER:
                break
            if self.channel is None:
                continue
            if tries >= MAX_SENDS:
                log.warning("%s: giving up on return of %s after %d sends", self.id, jid, tries)
                del self.unacked[jid]
                continue
            self.unacked.move_to_end(jid)
            entry[1], entry[2] = now, tries + 1
            self._send_up("ret", dict(body))

    def _reset(self) -> None:
        self.state = "new"
        self.channel = None
        self.next_action = 0.0

    def _send_auth(self, now: float) -> None:
        req, self.eph = make_request(self.id, self.identity)
        self._send(req.encode())
        self.state = "waiting"
        self.next_action = now + AUTH_REPLY_TIMEOUT

    def _send(self, payload: bytes) -> None:
        try:
            self.dealer.send(payload, zmq.NOBLOCK)
        except zmq.Again:
            log.debug("%s: send queue full, dropped a message", self.id)

    def _send_up(self, kind: str, body: dict[str, Any]) -> None:
        if self.channel is not None:
            self._send(self.channel.seal_up(kind, body))

    # -- input ------------------------------------------------------------------------------
    def on_readable(self, sock: zmq.Socket) -> None:
        for _ in range(1000):
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                if sock is self.dealer:
                    self._on_request_channel(frames)
                else:
                    self._on_publication(frames)
            except (ProtocolError, AuthError, InvalidTarget) as exc:
                log.debug("%s: dropped message: %s", self.id, exc)

    def _on_request_channel(self, frames: list[bytes]) -> None:
        if len(frames) != 1:
            raise ProtocolError("unexpected multipart message")
        msg = decode(frames[0], MINION_REQ_KINDS, self.cfg.max_message_size)
        kind = msg["k"]
        if kind == AuthReply.KIND:
            self._on_auth_reply(AuthReply.from_msg(msg))
        elif kind == "reauth":
            if self.state == "authed":
                log.info("%s: master asked to re-authenticate", self.id)
                self._reset()
        elif self.channel is not None:
            body = self.channel.open_down(Sealed.from_msg(msg), self.cfg.max_message_size)
            if body["t"] == "ack":
                for jid in body.get("jids", ()):
                    self.unacked.pop(jid, None)
            elif body["t"] == "rekey":
                self._on_rekey(body)

    def _on_auth_reply(self, rep: AuthReply) -> None:
        if self.state != "waiting" or self.eph is None:
            return
        try:
            master_key = self.pin.check(rep.mpub)
            grant = open_reply(rep, self.id, self.eph, master_key)
        except AuthError as exc:
            log.error("%s: refusing the master's auth reply: %s (retrying in %.0fs)", self.id, exc,
                      self.cfg.acceptance_wait_time)
            self.next_action = time.monotonic() + self.cfg.acceptance_wait_time
            return
        self.pin.commit(rep.mpub)
        self.eph = None
        if grant is None:
            log.info("%s: master says key is %s; retrying in %.0fs", self.id, rep.status, self.cfg.acceptance_wait_time)
            self.next_action = time.monotonic() + self.cfg.acceptance_wait_time
            return
        self.channel = Channel(self.id, grant.channel_key)
        self.kid, self.aead = grant.key_id, Aead(grant.session_key)
        self.state = "authed"
        self.last_hb = time.monotonic()
        if self.sub is None:
            self.sub = self._socket(zmq.SUB)
            self.sub.setsockopt(zmq.SUBSCRIBE, BROADCAST)
            self.sub.setsockopt(zmq.SUBSCRIBE, topic_for(self.id))
            self.sub.setsockopt(zmq.RCVHWM, 100_000)
            self.sub.connect(f"tcp://{self.cfg.master}:{self.cfg.publish_port or grant.pub_port}")
            self.register(self.sub, self)
        self._send_up("grains", {"grains": dict(self.functions.grains)})
        for jid, entry in self.unacked.items():  # returns not acked by the previous master session
            entry[1] = 0.0
        log.info("%s: authenticated (%s)", self.id, ACCEPTED)

    def _on_rekey(self, body: dict[str, Any]) -> None:
        kid, key = body.get("kid"), body.get("key")
        if isinstance(kid, int) and isinstance(key, bytes) and len(key) == 32 and kid > self.kid:
            self.kid, self.aead = kid, Aead(key)
            stash, self.stash = self.stash, []
            for _, pub in stash:
                self._handle_publication(pub)

    def _on_publication(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            raise ProtocolError("publication must have a topic and a payload")
        pub = Publication.from_msg(decode(frames[1], MINION_PUB_KINDS, self.cfg.max_message_size))
        if self.pin.key is None:
            raise AuthError("no pinned master key yet")
        check_signature(pub, self.pin.key)
        if pub.kid > self.kid:
            if len(self.stash) < STASH_MAX:
                self.stash.append((time.monotonic(), pub))
            return
        self._handle_publication(pub)

    def _handle_publication(self, pub: Publication) -> None:
        if pub.kid != self.kid or self.aead is None:
            raise AuthError(f"publication under retired key {pub.kid}")
        job = open_job(pub, self.aead)
        self.replay.check(job.jid, job.ts)
        if not _target(job.tgt, job.tgt_type).matches(self.id, self.functions.grains):
            return
        fun, args, kwargs, jid = job.fun, job.args, job.kwargs, job.jid
        if self.functions.is_inline(fun):
            self.on_result(jid, self.functions.call(fun, args, kwargs, jid=jid))
            return
        self.runner.submit(lambda: self.functions.call(fun, args, kwargs, jid=jid),
                           lambda ret: self.on_result(jid, ret))

    def on_result(self, jid: str, ret: Return) -> None:
        body = {"jid": jid, "ret": ret.to_wire()}
        self.unacked[jid] = [body, time.monotonic(), 1]
        self._send_up("ret", dict(body))

    def fire_event(self, tag: str, data: Any) -> None:
        """Event sink for modules; called from any thread, so the send runs on the loop."""
        self.runner.call_soon(lambda: self._send_up("event", {"tag": tag, "data": dict(data)}))

    def close(self) -> None:
        if self.state == "authed":
            self._send_up("bye", {})
            time.sleep(0.05)  # let the bye leave before the socket closes (LINGER is 0)
        for sock in (self.dealer, self.sub):
            if sock is not None:
                sock.close(0)
