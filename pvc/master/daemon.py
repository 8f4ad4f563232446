"""The master's I/O loop: one thread, three sockets, no blocking calls.

Sockets: PUB (publish_port) for jobs, ROUTER (ret_port) for auth/returns/heartbeats, and a
local IPC ROUTER for clients; plus the event bus. Each loop turn drains what is readable
(bounded), serves a bounded number of auth requests, then *flushes*: returns received in this
turn are written to the job cache in one transaction, and only then acknowledged to minions,
forwarded to waiting clients and fired on the bus ("stored before acked").
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from typing import Any

import zmq

from pvc.config import MasterConfig
from pvc.errors import AuthError, JobCacheError, ProtocolError, PvcError
from pvc.keys import load_or_create_identity
from pvc.master.keystore import KeyStore
from pvc.master.auth import AuthServer
from pvc.master.clients import ClientHandlers
from pvc.master.events import EVENTS_SOCKET, EventBus, minion_may_fire
from pvc.master.jobcache import JobRecord, open_job_cache
from pvc.master.jobs import ActiveJob, ActiveJobs
from pvc.master.ratelimit import PeerLimiter
from pvc.master.sessions import Session, Sessions
from pvc.wire.auth import ACCEPTED
from pvc.wire.codec import decode, encode
from pvc.wire.local import CLIENT_SOCKET
from pvc.wire.messages import MASTER_KINDS, AuthRequest, Reauth, Sealed

log = logging.getLogger(__name__)
DRAIN_LIMIT = 5000
PRUNE_EVERY = 3600.0
CACHE_RETRY = 1.0


class Master:
    def __init__(self, cfg: MasterConfig) -> None:
        self.cfg = cfg
        self.identity = load_or_create_identity(cfg.pki_dir, "master")
        self.keys = KeyStore(cfg.pki_dir)
        self.cache = open_job_cache(cfg.job_cache, os.path.join(cfg.cachedir, "jobs.sqlite"))
        self.sessions = Sessions(cfg.heartbeat)
        self.jobs = ActiveJobs()
        self.grains: dict[str, dict[str, Any]] = {}
        self.accepted: dict[str, bytes] = {}
        self.reload_keys()
        self._stop = False
        self._pending: list[tuple[str, str, dict[str, Any], float]] = []
        self._new_jobs: list[JobRecord] = []
        self._cache_retry_at = 0.0
        self._acks: dict[str, list[str]] = defaultdict(list)

        self.zctx = zmq.Context.instance()
        # XPUB, not PUB: each minion subscribes to its own topic, so the master learns when a
        # minion's subscription is live (and when it drops) and never reports as connected a
        # minion that would miss the publication (ZMQ's "slow joiner").
        self.pub = self._socket(zmq.XPUB, f"tcp://{cfg.interface}:{cfg.publish_port}")
        self.pub.setsockopt(zmq.SNDHWM, 1_000_000)
        self.pub.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.router = self._socket(zmq.ROUTER, f"tcp://{cfg.interface}:{cfg.ret_port}")
        self.router.setsockopt(zmq.MAXMSGSIZE, cfg.max_message_size)
        os.makedirs(cfg.sock_dir, mode=0o700, exist_ok=True)
        os.chmod(cfg.sock_dir, 0o700)
        self.client = self._socket(zmq.ROUTER, f"ipc://{os.path.join(cfg.sock_dir, CLIENT_SOCKET)}")
        self.bus = EventBus(self.zctx, os.path.join(cfg.sock_dir, EVENTS_SOCKET))
        self.peers = PeerLimiter(cfg.peer_rate, cfg.peer_rate)
        self.auth = AuthServer(cfg, self.identity, self.keys, self.sessions, self.send_minion, self.bus.fire)
        self.auth.on_accept = self._on_accept
        self.clients = ClientHandlers(self)
        self.poller = zmq.Poller()
        self.poller.register(self.router, zmq.POLLIN)
        self.poller.register(self.client, zmq.POLLIN)
        self.poller.register(self.pub, zmq.POLLIN)
        self.poller.register(self.bus.sock, zmq.POLLIN)
        self.stats = defaultdict(int)

    def _socket(self, kind: int, addr: str) -> zmq.Socket:
        sock = self.zctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        if kind == zmq.ROUTER:
            sock.setsockopt(zmq.RCVHWM, 100_000)
            sock.setsockopt(zmq.SNDHWM, 100_000)
        try:
            sock.bind(addr)
        except zmq.ZMQError as exc:
            raise PvcError(f"master: cannot bind {addr}: {exc}") from None
        return sock

    # -- life cycle -------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop = True

    def run(self) -> None:
        log.info("master up: publish %s:%d, returns %s:%d", self.cfg.interface, self.cfg.publish_port,
                 self.cfg.interface, self.cfg.ret_port)
        last_housekeeping = time.monotonic()
        last_prune = 0.0
        try:
            while not self._stop:
                ready = dict(self.poller.poll(self._poll_ms()))
                now = time.monotonic()
                if self.router in ready:
                    self._drain(self.router, self._on_minion)
                if self.client in ready:
                    self._drain(self.client, self.clients.handle)
                if self.pub in ready:
                    self._drain(self.pub, self._on_subscription)
                if self.bus.sock in ready:
                    self._drain(self.bus.sock, self.bus.on_subscription)
                self.auth.serve(now)
                self.flush()
                self._finish_due(now)
                if now - last_housekeeping > 5:
                    last_housekeeping = now
                    for mid in self.sessions.expire(now):
                        log.info("minion %s: session expired", mid)
                    if now - last_prune > PRUNE_EVERY:
                        last_prune = now
                        self._prune()
        finally:
            self.close()

    def _prune(self) -> None:
        """Forget jobs older than ``keep_jobs`` hours (Salt's option of the same name)."""
        try:
            removed = self.cache.prune(time.time() - self.cfg.keep_jobs * 3600)
        except JobCacheError as exc:
            log.error("job cache: pruning failed: %s", exc)
            return
        if removed:
            log.info("job cache: pruned %d jobs older than %g h", removed, self.cfg.keep_jobs)

    def close(self) -> None:
        self.flush()
        for sock in (self.pub, self.router, self.client):
            sock.close(0)
        self.bus.close()
        self.cache.close()
        refused = ", ".join(f"{name} {n}" for name, n in sorted(self.stats.items()) if n)
        log.info("master stopped%s", f" (dropped or refused: {refused})" if refused else "")

    def record_job(self, job: JobRecord) -> None:
        """Queue a job record; it is written at the end of this loop turn, before any of its
        returns can arrive."""
        self._new_jobs.append(job)

    def _poll_ms(self) -> int:
        if self.auth.queue or ((self._pending or self._new_jobs) and time.monotonic() >= self._cache_retry_at):
            return 0
        nxt = self.jobs.next_deadline()
        wait = 0.1 if nxt is None else min(0.1, max(0.0, nxt - time.monotonic()))
        return int(wait * 1000) + 1

    def _drain(self, sock: zmq.Socket, handler: Any) -> None:
        for _ in range(DRAIN_LIMIT):
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            handler(frames)

    # -- minion side ------------------------------------------------------------------------
    def send_minion(self, peer: bytes, payload: bytes) -> None:
        try:
            self.router.send_multipart([peer, payload], zmq.NOBLOCK)
        except zmq.Again:
            self.stats["send_dropped"] += 1

    def _on_minion(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            self.stats["bad_frames"] += 1
            return
        peer, payload = frames
        now = time.monotonic()
        if not self.peers.allow(peer, now):
            self.stats["rate_limited"] += 1
            return
        try:
            msg = decode(payload, MASTER_KINDS, self.cfg.max_message_size)
            if msg["k"] == AuthRequest.KIND:
                self.auth.submit(peer, AuthRequest.from_msg(msg))
                return
            box = Sealed.from_msg(msg)
            session = self.sessions.get(box.id)
            if session is None:
                self.send_minion(peer, Reauth().encode())
                return
            body = session.channel.open_up(box, self.cfg.max_message_size)
        except (ProtocolError, AuthError) as exc:
            self.stats["refused"] += 1
            log.debug("refused message from peer %s: %s", peer.hex(), exc)
            return
        session.peer = peer
        session.last_seen = now
        self._on_sealed(box.id, session, body)

    def _on_subscription(self, frames: list[bytes]) -> None:
        """``\x01@<id>\0`` when a minion's SUB subscribes, ``\x00@<id>\0`` when it is gone."""
        frame = frames[0]
        if len(frame) > 3 and frame[1:2] == b"@" and frame.endswith(b"\x00"):
            mid = frame[2:-1].decode("utf-8", "replace")
            if frame[0] == 1:
                self.sessions.subscribed.add(mid)
            else:
                self.sessions.subscribed.discard(mid)

    def _on_sealed(self, mid: str, session: Session, body: dict[str, Any]) -> None:
        kind = body["t"]
        if kind == "ret":
            self._on_return(mid, body)
        elif kind == "grains":
            grains = body.get("grains")
            if isinstance(grains, dict):
                self.grains[mid] = grains
        elif kind == "event":
            tag, data = body.get("tag"), body.get("data")
            if isinstance(tag, str) and isinstance(data, dict) and minion_may_fire(mid, tag):
                self.bus.fire(tag, {**data, "_minion": mid})
            else:
                log.warning("minion %s may not fire event %r", mid, tag)
        elif kind == "bye":
            self.sessions.drop(mid)
            self.bus.fire(f"pvc/minion/{mid}/stop", {"id": mid})

    def _on_return(self, mid: str, body: dict[str, Any]) -> None:
        jid, ret = body.get("jid"), body.get("ret")
        if not isinstance(jid, str) or not isinstance(ret, dict):
            self.stats["bad_returns"] += 1
            return
        job = self.jobs.get(jid)
        if job is None or mid not in job.expected:
            self.stats["unexpected_returns"] += 1
            log.warning("refused return from %s for job %s: the job did not target it", mid, jid)
            return
        self._acks[mid].append(jid)
        if mid in job.returned:
            return  # a resend whose ack was lost: ack again, store nothing
        job.returned.add(mid)
        self._pending.append((jid, mid, ret, time.time()))

    def _on_accept(self, mid: str) -> None:
        self.accepted[mid] = self.sessions.by_id[mid].pub

    # -- flushing ---------------------------------------------------------------------------
    def flush(self) -> None:
        """Store the returns of this loop turn, then ack them, then tell clients and the bus."""
        if (self._new_jobs or self._pending) and time.monotonic() >= self._cache_retry_at:
            jobs, self._new_jobs = self._new_jobs, []
            pending, self._pending = self._pending, []
            try:
                self.cache.write(jobs, pending)
            except JobCacheError as exc:
                self._cache_failed(jobs, pending, exc)
                return
            touched: dict[str, ActiveJob] = {}
            for jid, mid, ret, _ in pending:
                job = self.jobs.get(jid)
                if job is None:
                    continue
                touched[jid] = job
                msg = encode("ret", {"jid": jid, "id": mid, "ret": ret})
                for waiter in job.waiters:
                    self.send_client(waiter, msg)
                self.bus.fire(f"pvc/job/{jid}/ret/{mid}", {"id": mid, **ret})
            for job in touched.values():  # only after every return of this turn went out
                if not job.finished and not job.outstanding():
                    self.finish(job)
        if self._acks:
            acks, self._acks = self._acks, defaultdict(list)
            for mid, jids in acks.items():
                session = self.sessions.get(mid)
                if session is not None:
                    self.send_minion(session.peer, session.channel.seal_down("ack", {"jids": jids}))

    def _cache_failed(self, jobs: list[JobRecord], pending: list[tuple[str, str, dict[str, Any], float]],
                      exc: JobCacheError) -> None:
        """Nothing of this turn was stored, so nothing is acked: the minions resend their
        returns, and the job records are written again in a second."""
        log.error("%s; %d returns not acknowledged (minions will resend), retrying in %gs",
                  exc, len(pending), CACHE_RETRY)
        self._new_jobs[:0] = jobs
        for jid, mid, _, _ in pending:
            job = self.jobs.get(jid)
            if job is not None:
                job.returned.discard(mid)
        self._acks.clear()
        self._cache_retry_at = time.monotonic() + CACHE_RETRY

    def finish(self, job: ActiveJob) -> None:
        job.finished = True
        missing = job.missing()
        if missing:
            try:
                self.cache.mark_missing(job.jid, missing)
            except JobCacheError as exc:
                log.error("job %s: could not record who did not return: %s", job.jid, exc)
        msg = encode("done", {"jid": job.jid, "missing": missing})
        for waiter in job.waiters:
            self.send_client(waiter, msg)
        job.waiters.clear()

    def _finish_due(self, now: float) -> None:
        for job in self.jobs.due(now):
            self.finish(job)

    def send_client(self, peer: bytes, payload: bytes) -> None:
        try:
            self.client.send_multipart([peer, payload], zmq.NOBLOCK)
        except zmq.Again:
            self.stats["client_dropped"] += 1

    # -- keys -------------------------------------------------------------------------------
    def reload_keys(self) -> list[str]:
        """Re-read accepted keys; drop sessions whose key is gone or changed; rotate the
        session key if any was dropped, and hand the new key to the others. Returns the ids
        that lost their session."""
        self.accepted = {k.id: k.raw for k in self.keys.list(states=(ACCEPTED,))}
        revoked = [mid for mid, s in self.sessions.by_id.items() if self.accepted.get(mid) != s.pub]
        if not revoked:
            return []
        for mid in revoked:
            self.sessions.drop(mid)
            self.grains.pop(mid, None)
        self.sessions.key.rotate()
        key = self.sessions.key
        for session in self.sessions.by_id.values():
            self.send_minion(session.peer, session.channel.seal_down("rekey", {"kid": key.key_id, "key": key.key}))
        log.info("revoked %s; session key rotated to %d", ", ".join(sorted(revoked)), key.key_id)
        return revoked
