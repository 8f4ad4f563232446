"""The master: wiring and the I/O loop. One thread, no blocking calls.

Sockets: the enrolment port (``ret_port``, raw TCP with our own framing and limits, see
:mod:`pvc.master.enrolport`: strangers may only ask to authenticate), the channel ROUTER (``channel_port``, CURVE: only authenticated minions; their
sealed returns, heartbeats and events up, and everything to them down, publications included:
one connection per minion), the ZAP handler that decides who may finish a CURVE handshake, the local
client ROUTER, and the event bus. Each loop turn drains what is readable (bounded), serves a
bounded number of auth requests, then flushes: returns are stored, then acknowledged.

Every message is handled inside a per-message guard: whatever a peer sends, the worst outcome
is that one message is dropped, logged (at a bounded rate) and counted.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import zmq

from pvc import events
from pvc.config import MasterConfig
from pvc.crypto import curve_keypair
from pvc.errors import AuthError, JobCacheError, ProtocolError, PvcError
from pvc.keys import load_or_create_identity
from pvc.master import heap, zmqbuild
from pvc.master.auth import Enrolment
from pvc.master.clients import ClientContext, ClientHandlers
from pvc.master.enrolport import CHUNKS_QUEUED, EnrolmentPort
from pvc.master.events import EVENTS_SOCKET, EventBus
from pvc.master.fileserver import FileServer
from pvc.master.inbox import Inbox
from pvc.master.jobcache import open_job_cache
from pvc.master.jobs import ActiveJobs
from pvc.master.keystore import KeyStore
from pvc.master.mine import MineServer
from pvc.master.minestore import MineStore
from pvc.master.observers import BusObserver, ClientStreams
from pvc.master.publisher import Publisher
from pvc.master.ratelimit import PeerLimiter, TokenBucket
from pvc.master.returns import Delivery, Returns, ack_wait
from pvc.master.sessions import Session, Sessions
from pvc.master.zap import CHANNEL_DOMAIN, ZapHandler, unpredictable_routing_ids
from pvc.observers import Observers
from pvc.wire.auth import ACCEPTED, ReplyParams
from pvc.wire.codec import decode
from pvc.wire.inner import Ack, Rekey
from pvc.wire.local import CLIENT_SOCKET, PID_FILE
from pvc.wire.messages import MASTER_CHANNEL_KINDS, Reauth, Sealed
from pvc.wire.record import Record

log = logging.getLogger(__name__)
# messages read from one socket per loop turn: a turn also stores and acks what it read, and at
# 10,000 minions a turn of 5,000 returns kept local clients waiting past their 3 s timeout
DRAIN_LIMIT = 1000
PRUNE_EVERY = 3600.0
ENROL_DRAIN = 256  # enrolment chunks read per loop turn: strangers never crowd out minions
# TCP connections the kernel holds for the channel port until libzmq accepts them (its default is
# 100): a fleet reconnects at once after a master restart, and a SYN dropped for a full queue costs
# its minion a 1, 3, 7 or 15 s retransmit. Pending connections cost the kernel, not this process,
# and only authenticated keys finish a handshake. The enrolment port, open to strangers, keeps 100.
LISTEN_BACKLOG = 4096
ENROL_BACKLOG = 100
# a plain int: ``|`` on pyzmq's enum.Flag builds a Flag per call, twice per job and minion
_HEAD_FRAME = int(zmq.NOBLOCK | zmq.SNDMORE)


# libzmq's I/O threads: they accept connections and run every CURVE handshake and encryption.
# Two serve the minions' ports (with one, a fleet arriving at once overflowed the kernel's accept
# queue: a hello then waited in TCP retransmits for seconds); a third serves only the local client
# and event sockets, whose messages otherwise queued for seconds behind 10,000 minions' traffic
# (`pvc` timed out against a master whose loop was idle enough to answer)
IO_THREADS = 3
MINION_IO = 0b011  # ZMQ_AFFINITY: the I/O threads a socket's connections may use
LOCAL_IO = 0b100

CLIENT_GROUP = "pvc"


def _client_group(sock_dir: str) -> int | None:
    """The local client sockets are the master's front door: root only (0700), or also the
    members of group ``pvc`` when that group exists (0750; the package creates it). A member
    can run any job on every minion, so membership is as good as root on the cluster."""
    import grp

    os.makedirs(sock_dir, mode=0o700, exist_ok=True)
    try:
        gid: int | None = grp.getgrnam(CLIENT_GROUP).gr_gid
    except KeyError:
        gid = None
    if gid is not None:
        os.chown(sock_dir, -1, gid)
    os.chmod(sock_dir, 0o750 if gid is not None else 0o700)
    return gid


class Master:
    def __init__(self, cfg: MasterConfig) -> None:
        self.cfg = cfg
        self.identity = load_or_create_identity(cfg.pki_dir, "master")
        self.curve_secret, curve_pub = curve_keypair(self.identity)
        self.keys = KeyStore(cfg.pki_dir)
        self.cache = open_job_cache(cfg.job_cache, os.path.join(cfg.cachedir, "jobs.sqlite"))
        self.sessions = Sessions(cfg.heartbeat, cfg.heartbeat_rate)
        self.jobs = ActiveJobs()
        self.grains: dict[str, dict[str, Any]] = {}
        self.accepted: dict[str, bytes] = {}
        self.stats: Counter[str] = Counter()
        self._stop = False
        self._log_budget = TokenBucket(5.0, 20.0)

        self.zctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        self.zctx.set(zmq.IO_THREADS, IO_THREADS)
        self.zap = ZapHandler(self.zctx)  # bound before any socket needs it
        # the enrolment port's backlog stays libzmq's 100: pending connections bring a stranger's
        # data with them when accepted, and with 1,024 or 4,096 an endless-stream flood left the
        # master 100-150 MiB larger (tests/integration/test_attacks_flood.py bounds it at 16)
        self.enrol = self._socket(zmq.STREAM, cfg.ret_port, b"", options={zmq.RCVHWM: CHUNKS_QUEUED,
                                                                         zmq.BACKLOG: ENROL_BACKLOG})
        unpredictable_routing_ids()
        self.router = self._socket(zmq.ROUTER, cfg.channel_port, CHANNEL_DOMAIN, curve=True,
                                   options={zmq.BACKLOG: LISTEN_BACKLOG, zmq.RCVHWM: 1000, zmq.SNDHWM: 100_000,
                                            zmq.MAXMSGSIZE: cfg.max_message_size,
                                            zmq.ROUTER_MANDATORY: 1,  # a send to a closed connection says so
                                            **zmqbuild.connection_buffers()})
        group = _client_group(cfg.sock_dir)
        self.client = self.zctx.socket(zmq.ROUTER)
        self.client.setsockopt(zmq.AFFINITY, LOCAL_IO)
        self.client.setsockopt(zmq.LINGER, 0)
        # a ROUTER drops what exceeds a peer's high-water mark: a client pipelining thousands
        # of jobs gets three replies per job (published, ret, done) before it reads them
        self.client.setsockopt(zmq.SNDHWM, 1_000_000)
        self.client.setsockopt(zmq.RCVHWM, 100_000)
        self.client.bind(f"ipc://{os.path.join(cfg.sock_dir, CLIENT_SOCKET)}")
        self.bus = EventBus(self.zctx, os.path.join(cfg.sock_dir, EVENTS_SOCKET), LOCAL_IO)
        with open(os.path.join(cfg.sock_dir, PID_FILE), "w") as fh:  # "not running" vs "not answering"
            fh.write(f"{os.getpid()}\n")
        for name in (CLIENT_SOCKET, EVENTS_SOCKET, PID_FILE):
            path = os.path.join(cfg.sock_dir, name)
            if group is not None:
                os.chown(path, -1, group)
            os.chmod(path, 0o660 if group is not None else 0o600)
        self.peers = PeerLimiter(cfg.peer_rate, cfg.peer_rate)

        self.publisher = Publisher(self.sessions, self.identity, self.send_session)
        self.streams = ClientStreams(self.send_client)
        self.observers = Observers([BusObserver(self.bus.fire), self.streams])
        self.returns = Returns(self.cache, self.jobs, Delivery(self._ack, self.send_client, self.observers,
                                                               self.sessions.running),
                               ack_wait=lambda: ack_wait(self.sessions.pace()))
        self.fileserver = FileServer(cfg.file_roots, cfg.pillar_roots, self.grains, self._reply_to)
        self.mine = MineServer(MineStore(os.path.join(cfg.cachedir, "mine"), cfg.mine_minion_max_bytes, cfg.mine_max_bytes),
                               cfg.nodegroups, self.grains, self._reply_to)
        self.inbox = Inbox(self.returns, self.grains, self._reply, self.bus.fire, self.end_session,
                           self.fileserver.submit, self.sessions.pace, self.mine.submit)
        params = ReplyParams(self.identity, cfg.channel_port, curve_pub)
        self.enrol_port = EnrolmentPort(self.enrol, cfg.max_preauth_size, cfg.address_rate,
                                        lambda conn, payload: self.auth.on_message(conn, payload))
        self.auth = Enrolment(cfg, params, self.keys, self.sessions, self.zap, self.enrol_port.send, self.bus.fire,
                              self.enrol_port.conns.__contains__)
        self.reload_keys()
        self.clients = ClientHandlers(ClientContext(
            cfg.nodegroups, cfg.max_message_size, self.cache, self.jobs, self.returns, self.sessions,
            self.publisher, lambda: self.accepted, self.grains, self.reload_keys, self.bus.fire, self.send_client,
            self._reply, self.observers, self.streams))
        # (socket, handler, frames with metadata?, most messages per turn): minions first
        self.handlers: list[tuple[zmq.Socket, Callable[[list[Any]], None], bool, int]] = [
            (self.zap.sock, lambda frames: self.zap.handle(frames, time.monotonic()), False, DRAIN_LIMIT),
            (self.router, self._on_channel, True, DRAIN_LIMIT),
            (self.client, self.clients.handle, False, DRAIN_LIMIT),
            (self.bus.sock, self.bus.on_subscription, False, DRAIN_LIMIT),
            (self.enrol, self.enrol_port.on_frames, True, ENROL_DRAIN),
        ]
        self.poller = zmq.Poller()
        for sock, _, _, _ in self.handlers:
            self.poller.register(sock, zmq.POLLIN)
        self.poller.register(self.fileserver.fd, zmq.POLLIN)  # answers of the file server's thread
        self.poller.register(self.mine.fd, zmq.POLLIN)  # and of the mine's

    def _socket(self, kind: int, port: int, domain: bytes, curve: bool = False,
                options: dict[int, int] | None = None) -> zmq.Socket:
        """A bound socket for minions. ``options`` are set before the bind: libzmq copies a
        socket's options into its listener at bind time, so a limit set afterwards (a
        high-water mark, a message size) never reached the connections it accepts."""
        sock = self.zctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.AFFINITY, MINION_IO)
        if domain:
            sock.setsockopt(zmq.ZAP_DOMAIN, domain)
        if curve:
            sock.setsockopt(zmq.CURVE_SERVER, 1)
            sock.setsockopt(zmq.CURVE_SECRETKEY, self.curve_secret)
        for option, value in (options or {}).items():
            sock.setsockopt(option, value)
        addr = f"tcp://{self.cfg.interface}:{port}"
        try:
            sock.bind(addr)
        except zmq.ZMQError as exc:
            raise PvcError(f"master: cannot bind {addr}: {exc}") from None
        return sock

    # -- life cycle -------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop = True

    def run(self) -> None:
        rearmed = self.returns.rearm(time.time() - self.cfg.keep_jobs * 3600)
        log.info("master up: enrolment %s:%d, channel %d%s", self.cfg.interface, self.cfg.ret_port,
                 self.cfg.channel_port,
                 f"; {rearmed} unfinished jobs from the job cache" if rearmed else "")
        ours, which = zmqbuild.describe()
        log.log(logging.INFO if ours else logging.WARNING, "%s", which)
        last_housekeeping = time.monotonic()
        last_prune = 0.0
        try:
            while not self._stop:
                ready = dict(self.poller.poll(self._poll_ms()))
                for sock, handler, frames, most in self.handlers:
                    if sock in ready:
                        self._drain(sock, handler, frames, most)
                now = time.monotonic()
                self._guarded(partial(self.auth.serve, now))
                self._guarded(self.returns.flush)
                self._guarded(self.fileserver.drain)
                self._guarded(self.mine.drain)
                self._guarded(partial(self.returns.finish_due, now))
                self.inbox.expire_held(now)
                self.enrol_port.sweep(now)
                if now - last_housekeeping > 5:
                    last_housekeeping = now
                    heap.give_back()
                    self.auth.report()
                    for mid in self.sessions.expire(now):
                        self.end_session(mid, "session expired")
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
        self._guarded(self.returns.flush)
        for sock in (self.router, self.enrol, self.client):
            sock.close(0)
        self.bus.close()
        self.fileserver.close()
        self.mine.close()
        self.zap.close()
        self.cache.close()
        for path in (CLIENT_SOCKET, EVENTS_SOCKET, PID_FILE):  # the next client says "not running" at once
            try:
                os.unlink(os.path.join(self.cfg.sock_dir, path))
            except OSError:
                pass
        self.stats.update(enrol_refused=self.auth.stats.refused + self.enrol_port.refused, enrol_busy=self.auth.stats.busy,
                          enrol_abandoned=self.auth.stats.abandoned, handshakes_refused=self.zap.refused,
                          returns_refused=self.returns.refused, events_refused=self.inbox.refused_events,
                          files_refused=self.fileserver.stats["refused"], files_busy=self.fileserver.stats["busy"],
                          mine_refused=self.mine.stats["refused"], mine_busy=self.mine.stats["busy"])
        refused = ", ".join(f"{name} {n}" for name, n in sorted(self.stats.items()) if n)
        log.info("master stopped%s", f" (dropped or refused: {refused})" if refused else "")

    def _poll_ms(self) -> int:
        """How long the next poll may sleep: not at all while returns wait to be stored or an
        auth can be served now; until the next auth token (a millisecond or two), job deadline
        or housekeeping (0.1 s) otherwise. (While a backlog of auths waited on ``auth_rate``,
        the loop used to spin: turns with nothing to do, CPU a co-located process lacked.)"""
        if self.returns.busy:
            return 0
        now = time.monotonic()
        wait = 0.1
        auth = self.auth.due_in(now)
        if auth is not None:
            if auth <= 0.0:
                return 0
            wait = min(wait, auth)
        nxt = self.jobs.next_deadline()
        if nxt is not None:
            wait = min(wait, max(0.0, nxt - now))
        return int(wait * 1000) + 1

    def _drain(self, sock: zmq.Socket, handler: Callable[[list[Any]], None], frames: bool, most: int) -> None:
        for _ in range(most):
            try:
                msg = sock.recv_multipart(zmq.NOBLOCK, copy=not frames)
            except zmq.Again:
                return
            self._guarded(partial(handler, msg))

    def _guarded(self, fn: Callable[[], None]) -> None:
        """The per-message guard: nothing a peer sends may end the loop."""
        try:
            fn()
        except (ProtocolError, AuthError) as exc:
            self.stats["refused"] += 1
            if self._log_budget.take():
                log.debug("dropped a message: %s", exc)
        except JobCacheError as exc:
            log.error("%s", exc)
        except Exception:
            self.stats["internal_errors"] += 1
            if self._log_budget.take():
                log.exception("internal error while handling a message (dropped)")

    # -- minion side ------------------------------------------------------------------------
    def send_minion(self, peer: bytes, payload: bytes | zmq.Frame) -> bool:
        """Hand ``payload`` to the channel connection ``peer``; False when that connection is
        gone. (A full queue drops the message and counts it: the minion is slow, not gone.)"""
        try:
            self.router.send(peer, _HEAD_FRAME)
        except zmq.Again:
            self.stats["send_dropped"] += 1
            return True
        except zmq.ZMQError as exc:
            if exc.errno != errno.EHOSTUNREACH:
                raise
            return False
        self.router.send(payload, zmq.NOBLOCK, copy=False)  # a shared publication frame is not copied
        return True

    def send_session(self, session: Session, payload: bytes | zmq.Frame) -> bool:
        """Send to a session's connection; one found gone no longer counts as connected (the
        minion's next box, on its next connection, makes it count again)."""
        if session.peer and not self.send_minion(session.peer, payload):
            session.peer = b""
        return bool(session.peer)

    def send_client(self, peer: bytes, payload: bytes) -> None:
        try:
            self.client.send_multipart([peer, payload], zmq.NOBLOCK)
        except zmq.Again:
            self.stats["client_dropped"] += 1

    def _reply(self, session: Session, body: Record) -> None:
        self.send_session(session, session.channel.seal_down(body))

    def _reply_to(self, mid: str, body: Record) -> None:
        session = self.sessions.get(mid)
        if session is not None:
            self._reply(session, body)

    def _ack(self, mid: str, jids: list[str]) -> None:
        session = self.sessions.get(mid)
        if session is not None:
            self._reply(session, Ack(jids))

    def _on_channel(self, frames: list[zmq.Frame]) -> None:
        """A frame from an authenticated CURVE connection; ``User-Id`` is its minion's id."""
        if len(frames) != 2:
            self.stats["bad_frames"] += 1
            return
        peer, payload = frames[0].bytes, frames[1]
        user = payload.get("User-Id")
        now = time.monotonic()
        if not self.peers.allow(peer, now):
            self.stats["rate_limited"] += 1
            return
        box = Sealed.from_map(decode(payload.bytes, MASTER_CHANNEL_KINDS, self.cfg.max_message_size))
        if box.id != user:
            raise AuthError(f"connection of {user!r} sent a box for {box.id!r}")
        if not self.sessions.known(box.id):
            self.send_minion(peer, Reauth().encode())
            return
        session, body, fresh = self.sessions.open(box, peer, self.cfg.max_message_size, now)
        mid = session.channel.mid  # the session's copy of the id: what a job keeps of who returned
        if fresh:                  # then holds no string of its own per return
            self._on_session(mid, session)
        self.inbox.handle(mid, session, body)

    def _on_session(self, mid: str, session: Session) -> None:
        self.accepted[mid] = session.pub
        log.info("minion %s: authenticated", mid)
        self.bus.fire(events.minion(mid, "start"), {"id": mid})

    def end_session(self, mid: str, why: str) -> None:
        self.sessions.drop(mid)
        self.inbox.session_ended(mid)
        self.grains.pop(mid, None)
        log.info("minion %s: %s", mid, why)
        self.bus.fire(events.minion(mid, "stop"), {"id": mid, "reason": why})

    # -- keys -------------------------------------------------------------------------------
    def reload_keys(self) -> list[str]:
        """Re-read accepted keys; drop sessions whose key is gone or changed; rotate the
        session key if any was dropped, and hand the new key to the others. Returns the ids
        that lost their session."""
        self.keys.reload()  # `pvc key` changed the files
        self.accepted = {k.id: k.raw for k in self.keys.find(states=(ACCEPTED,))}
        self.mine.keep_only(self.accepted)  # a deleted key's mine data goes with it
        sessions = {**self.sessions.pending, **self.sessions.by_id}
        revoked = [mid for mid, s in sessions.items() if self.accepted.get(mid) != s.pub]
        if not revoked:
            return []
        for mid in revoked:
            self.zap.revoke(mid)
            self.end_session(mid, "key revoked")
        self.sessions.key.rotate()
        key = self.sessions.key
        for session in self.sessions.by_id.values():
            self._reply(session, Rekey(key.key_id, key.key))
        log.info("revoked %s; session key rotated to %d", ", ".join(sorted(revoked)), key.key_id)
        return revoked
