"""One minion identity's protocol state machine, driven by an external I/O loop.

Kept separate from the loop so that one process can drive many identities through exactly
this code (the benchmark's swarm) and a normal minion drives one.

States: ``new`` (must say hello) -> ``hello`` (waiting for a challenge) -> ``auth`` (waiting
for the reply) -> ``authed`` (has the session key, its channel and the CURVE connection). A
``reauth`` from the master, a refused CURVE handshake (a restarted master), a silent master
or an unknown future key id that no ``rekey`` explains send it back to ``new``, with
jittered backoff so that a fleet does not return all at once.

Returns are spooled on disk before they are sent (:mod:`pvc.minion.spool`) and resent with
backoff until the master acks them, across restarts of either side; a job that was running
when the minion died is reported as lost ("minion restarted during the job").
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Protocol

import zmq

from pvc.config import MinionConfig, tcp_endpoint
from pvc.crypto import Aead, Ed25519PrivateKey, X25519PrivateKey, curve_keypair
from pvc.errors import AuthError, InvalidTarget, ProtocolError
from pvc.minion.enrol import REPLY_MAX, EnrolConnection, EnrolSlots
from pvc.minion.functions import MinionFunctions
from pvc.minion.masterlink import MasterRequests
from pvc.minion.pin import MasterPin
from pvc.minion.runner import JobRunner
from pvc.minion.socketloop import has_message
from pvc.minion.spool import Spool, SpoolError
from pvc.results import RESTARTED, Return
from pvc.targeting import Target, compile_target
from pvc.wire.auth import ACCEPTED, Offer, make_request, open_reply
from pvc.wire.codec import decode, pack, unpack
from pvc.wire.inner import (
    ANSWERS,
    UP,
    Ack,
    Bye,
    EventMsg,
    Grains,
    Heartbeat,
    JobBox,
    Kill,
    Lost,
    Pong,
    Rekey,
    Ret,
    ReturnRec,
    RunningJob,
)
from pvc.wire.messages import (
    MINION_CHANNEL_KINDS,
    MINION_ENROL_KINDS,
    AuthReply,
    AuthRequest,
    Busy,
    Challenge,
    Hello,
    Job,
    Publication,
    Sealed,
)
from pvc.wire.publication import check_signature, open_job
from pvc.wire.record import Record
from pvc.wire.replay import ReplayGuard
from pvc.wire.sealed import Channel

log = logging.getLogger(__name__)
# how long one enrolment attempt may take: the master answers or closes every enrolment connection
# within its 10 s lifetime (enrolport.LIFETIME; the auth request may queue, at most MAX_QUEUED /
# auth_rate ~8 s), and a close is seen at once; so this only catches a hung master. Shorter, an
# overloaded fleet abandoned attempts the master was about to answer, and retried: more load.
ENROL_WAIT = 12.0
REFUSED_FIRST = 0.05  # the first retry after the master closed our enrolment connection waits ~0.1 s
REFUSED_MAX = 5.0  # the retry wait doubles up to this (jittered)
SLOT_WAIT = 5.0  # an identity in line for one of its process's enrolment slots looks again at the latest
RESEND_FIRST = 3.0
# the transport's ping interval at most: the TTL our pings carry (four of them) must stay below
# 65.5 s, because libzmq 4.3.5 multiplies a received TTL (16-bit deciseconds) by 100 in a 16-bit
# integer: 400 s arrived as 6.8 s, and the master dropped thousands of healthy connections
MAX_TRANSPORT_PING_MS = 16_000
RESEND_MAX = 60.0
EARLY_EVENTS = 256  # events fired before the first auth, kept (newest) until it completes
REDIRECT_AFTER = 10.0  # seconds a return waits for its master before other masters are offered it
STASH_MAX = 256
STASH_WAIT = 1.0
# a master silent for three of the beats it asked for, and at least this long, is taken as hung
# and authenticated with again. A dead connection is seen sooner by the transport (the channel's
# monitor); a master that is only busy (10,000 minions arriving at once kept its loop seconds
# behind) is not helped by a fleet re-authenticating with it, which made it later still
SILENCE_MIN = 60.0
# the channel connection dropped or a handshake was refused: the master restarted (its new
# incarnation knows no session of ours), or changed its key: authenticate again at once
_MONITORS = itertools.count()  # names of channel monitors, unique in the process
_CHANNEL_LOST = (zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                 | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_DISCONNECTED)


@lru_cache(maxsize=1024)
def _target(tgt: Any, tgt_type: str) -> Target:
    return compile_target(tgt, tgt_type)


def _jitter(seconds: float) -> float:
    return seconds * random.uniform(0.5, 1.5)


class SocketLoop(Protocol):
    """The I/O loop that polls a core's sockets and calls :meth:`MinionCore.on_readable`."""

    def register(self, sock: zmq.Socket, core: MinionCore) -> None: ...

    def unregister(self, sock: zmq.Socket) -> None: ...

    def send(self, sock: zmq.Socket, data: bytes) -> None: ...

    def close_later(self, sock: zmq.Socket) -> None: ...


class Unacked:
    """A spooled return (or lost-job report), when it was first sent and when to send it next."""

    __slots__ = ("due", "first", "rec", "wait")

    def __init__(self, rec: Record, due: float) -> None:
        self.rec = rec
        self.due = due
        self.first = time.monotonic()
        self.wait = RESEND_FIRST

    def take_turn(self, now: float) -> bool:
        """Whether it is due now; if so, the next send waits twice as long (jittered, bounded)."""
        if self.due > now:
            return False
        self.due = now + _jitter(self.wait)
        self.wait = min(RESEND_MAX, self.wait * 2)
        return True


class MinionCore:
    def __init__(self, cfg: MinionConfig, identity: Ed25519PrivateKey, functions: MinionFunctions,
                 runner: JobRunner, zctx: zmq.Context, loop: SocketLoop, slots: EnrolSlots | None = None) -> None:
        self.cfg = cfg
        self.id = cfg.id
        self.identity = identity
        self.curve_secret, self.curve_pub = curve_keypair(identity)
        self.functions = functions
        self.runner = runner
        self.zctx = zctx
        self.loop = loop
        self.pin = MasterPin(cfg.pki_dir, cfg.master_finger)
        self.replay = ReplayGuard(cfg.pub_window)
        self.clock_offset = 0.0
        self._state = "new"  # new -> hello -> auth -> authed (see tick); changes go to state_hook
        self.state_hook: Callable[[MinionCore, float], None] = lambda _core, _now: None
        self.next_action = 0.0
        self.attempts = 0
        self.status = ""  # last key state the master told us, for logging once per change
        self.req: AuthRequest | None = None
        self.eph: X25519PrivateKey | None = None
        self.channel: Channel | None = None
        self.kid = -1
        self.aead: Aead | None = None
        self.chan: zmq.Socket | None = None
        self.monitor: zmq.Socket | None = None
        self.endpoint = ("", b"")  # (channel address, master CURVE key) the sockets use
        self.last_hb = 0.0
        self.hb_every = cfg.heartbeat  # the master may ask for a slower pace (Pong.every)
        self.last_heard = 0.0
        self.silent_log_at = 0.0
        self.vms: set[str] = set()
        self.early_events: deque[tuple[str, dict[str, Any]]] = deque(maxlen=EARLY_EVENTS)
        self.siblings: list[MinionCore] = []  # this identity's cores for the other masters
        self.running: dict[str, tuple[str, float]] = {}  # jid -> (function, monotonic start), while it runs
        # when to beat early: half the timeout of the first job started since the last beat, so
        # that the master, whose beats may come 40 s apart, knows the job runs before its deadline
        self.tell_running_at = math.inf
        self.stash: list[tuple[float, Publication]] = []
        self.unacked: OrderedDict[str, Unacked] = OrderedDict()
        # one spool per identity and master: a return goes back to the master that asked
        self.spool = Spool(os.path.join(cfg.cachedir, "spool", f"{cfg.id}@{cfg.master}:{cfg.master_port}.log"),
                           cfg.spool_max_bytes,
                           cfg.spool_max_age * 3600, cfg.spool_fsync)
        self._load_spool()
        self.enrol: EnrolConnection | None = None
        self.slots = slots or EnrolSlots()  # shared by the process's identities
        # files and pillar for this master's jobs (state.apply), cached by content hash
        self.link = MasterRequests(self._send_up, runner.call_soon, os.path.join(cfg.cachedir, "files"))

    @property
    def state(self) -> str:
        return self._state

    @state.setter
    def state(self, value: str) -> None:
        if value != self._state:
            self._state = value
            self.state_hook(self, time.monotonic())

    def _socket(self, kind: int) -> zmq.Socket:
        sock = self.zctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, self.cfg.max_message_size)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        # the transport's pings: a peer that vanished without a TCP reset is dropped after ten
        # heartbeats of silence (20 s at the default 2 s) -- by us (TIMEOUT), and by the master,
        # which our pings ask to (TTL), so such a host is "not connected" at its next send.
        # Shorter (6 s), the pings of a loaded 10,000-minion box went unanswered in time and
        # 14% of the fleet dropped healthy connections and authenticated again. At the pace the
        # master asks of its fleet (the auth reply's `every`), like the heartbeats, up to 16 s:
        # every 5 s on each of 10,000 connections, they took 40% of this 2-core box, fleet idle
        ping_ms = int(min(self.hb_every * 2500, MAX_TRANSPORT_PING_MS))
        sock.setsockopt(zmq.HEARTBEAT_IVL, ping_ms)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 4 * ping_ms)
        sock.setsockopt(zmq.HEARTBEAT_TTL, 4 * ping_ms)
        return sock

    def _load_spool(self) -> None:
        """Returns the last run did not get acked, and jobs it never finished."""
        now = time.monotonic()
        for jid, payload in self.spool.pending():
            try:
                self.unacked[jid] = Unacked(UP.decode(unpack(payload)), now)
            except ProtocolError:
                self.spool.ack(jid)
        for jid, fun in self.spool.interrupted():
            log.warning("%s: job %s (%s) was running when the minion stopped; reporting it as lost", self.id, jid, fun)
            self._spool_put(jid, Lost(jid, RESTARTED))

    # -- timers -----------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        if self.state != "authed":
            if now >= self.next_action:
                self._enrol_step(now)
            if self.unacked and self.siblings:
                self._redirect(now)
            return
        if now - self.last_hb >= self.hb_every:
            self.last_hb = now + random.uniform(-0.1, 0.1) * self.hb_every  # a fleet's beats stay spread
            self._send_up(self._heartbeat())
        elif now >= self.tell_running_at:  # the beat after it stays on its schedule
            self.tell_running_at = math.inf
            if self.running:
                self._send_up(self._heartbeat())
        silent_for = now - self.last_heard
        if silent_for > max(3 * self.hb_every + 2, SILENCE_MIN):
            log.warning("%s: no answer from master %s for %.0fs; authenticating again", self.id,
                        self.cfg.master, silent_for)
            self._drop_channel()  # and reconnect from scratch
            self._reset(now)
            return
        if self.stash and now - self.stash[0][0] > STASH_WAIT:
            log.info("%s: publications under an unknown key; authenticating again", self.id)
            self.stash.clear()
            self._reset(now)
            return
        if self.unacked:
            self._resend(now)

    def _enrol_step(self, now: float) -> None:
        """Open an enrolment connection and say hello: the first step, or a retry after no
        answer (on a new connection)."""
        if self.state in ("hello", "auth"):
            self._no_answer(now)
        self._close_enrol()
        if not self.slots.take(self._slot_free):  # the process's other identities hold them all
            self.state = "new"
            self.next_action = now + SLOT_WAIT  # _slot_free comes first
            return
        try:
            self.enrol = EnrolConnection(self.zctx, tcp_endpoint(str(self.cfg.master), self.cfg.master_port,
                                                                  self.cfg.source_address))
        except zmq.ZMQError as exc:  # out of sockets or descriptors for now (a swarm): try again later
            self.slots.give_back()
            self._retry_later(now, _jitter(REFUSED_MAX))
            if now >= self.silent_log_at:
                log.warning("%s: cannot open an enrolment connection: %s", self.id, exc)
                self.silent_log_at = now + 60.0
            return
        self.loop.register(self.enrol.sock, self)
        self.enrol.opening = Hello().encode()
        self.enrol.send(self.enrol.opening)
        self.state = "hello"
        self.next_action = now + ENROL_WAIT + random.uniform(0, ENROL_WAIT / 4)

    def _slot_free(self) -> bool:
        """Our turn for an enrolment slot: the next tick opens the connection."""
        if self.state != "new" or self.enrol is not None:
            return False
        self.next_action = 0.0
        return True

    def _close_enrol(self) -> None:
        if self.enrol is not None:
            self.loop.close_later(self.enrol.sock)
            self.enrol = None
            self.slots.give_back()

    def _no_answer(self, now: float) -> None:
        self.attempts += 1
        if now >= self.silent_log_at:  # say it at once, then at a falling rate (max every 5 min)
            log.warning("%s: no answer from master %s:%d (attempt %d); is the master running, and is "
                        "master_port its ret_port?", self.id, self.cfg.master, self.cfg.master_port, self.attempts)
            self.silent_log_at = now + min(300.0, 5.0 * 2 ** min(self.attempts, 6))

    def _resend(self, now: float) -> None:
        """Send again the returns the master has not acknowledged, with backoff, until it does
        (the master stores before it acks, so a resend is never stored twice)."""
        for entry in self.unacked.values():
            if entry.take_turn(now):
                self._send_up(entry.rec)

    def _redirect(self, now: float) -> None:
        """Our master is gone: offer returns waiting longer than ``REDIRECT_AFTER`` to the other
        masters this minion serves. One that shares the job cache stores and acks them (and the
        ack clears them here); one that does not refuses them, and they wait for our master."""
        live = [s for s in self.siblings if s.state == "authed"]
        if not live:
            return
        for entry in self.unacked.values():
            if now - entry.first >= REDIRECT_AFTER and entry.take_turn(now):
                for sibling in live:
                    sibling._send_up(entry.rec)

    def acked_elsewhere(self, jids: list[str]) -> None:
        """Another master acked returns of ours (it shares the job cache): forget them."""
        known = [jid for jid in jids if self.unacked.pop(jid, None) is not None]
        if known:
            self._spool_call(self.spool.ack, *known)

    def _reset(self, now: float, wait: float = 0.0) -> None:
        self.state = "new"
        self.channel = None
        self.next_action = now + wait

    def _send_up(self, rec: Record) -> None:
        self._send_packed(pack(UP.tagged(rec)))

    def _send_packed(self, plain: bytes) -> None:
        """Send a record packed as ``pack(UP.tagged(rec))``."""
        if self.channel is not None and self.chan is not None:
            self.loop.send(self.chan, self.channel.seal_up_packed(plain))

    # -- input ------------------------------------------------------------------------------
    def on_readable(self, sock: zmq.Socket) -> bool:
        """Handle what ``sock`` holds; True once it holds nothing more (checked through
        ZMQ_EVENTS after each message: a failed recv costs an exception per socket and turn)."""
        enrol = self.enrol.sock if self.enrol is not None else None
        handler = {id(enrol): self._on_enrol, id(self.chan): self._on_channel,
                   id(self.monitor): self._on_monitor}[id(sock)]
        for _ in range(1000):
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return True
            try:
                handler(frames)
            except (ProtocolError, AuthError, InvalidTarget) as exc:
                log.debug("%s: dropped a message: %s", self.id, exc)
            except Exception:
                log.exception("%s: internal error while handling a message (dropped)", self.id)
            # a handler may have retired it (an enrolment exchange is over, the channel dropped)
            if not self._owns(sock) or not has_message(sock):
                return True
        return False

    def _owns(self, sock: zmq.Socket) -> bool:
        return sock is self.chan or sock is self.monitor or (self.enrol is not None and sock is self.enrol.sock)

    def _on_enrol(self, frames: list[bytes]) -> None:
        if self.enrol is None:
            return
        for payload in self.enrol.on_frames(frames):
            msg = decode(payload, MINION_ENROL_KINDS, REPLY_MAX)
            if msg["k"] == Busy.KIND:
                self._come_back(Busy.from_map(msg).wait)
                return
            if msg["k"] == Challenge.KIND:
                if self.state == "hello":
                    self.enrol.opening = b""
                    self.req, self.eph = make_request(Offer(self.id, self.identity, self.curve_pub),
                                                      Challenge.from_map(msg).c)
                    self.enrol.send(self.req.encode())
                    self.state = "auth"
            elif self.state == "auth":
                self._close_enrol()  # one exchange per connection: done either way
                self._on_auth_reply(AuthReply.from_map(msg))
                return
        if self.enrol.dropped:
            self._closed_by_master()

    def _retry_later(self, now: float, wait: float) -> None:
        """End this enrolment attempt (closing its connection) and start a new one ``wait`` s
        after ``now``."""
        self._close_enrol()
        self.state = "new"
        self.attempts += 1
        self.next_action = now + wait

    def _come_back(self, wait: float) -> None:
        """The master's auth queue is full and it gave us a time to come back (jittered by 10%:
        the master already spread the times of a herd)."""
        self._retry_later(time.monotonic(), wait * random.uniform(0.9, 1.1))

    def _closed_by_master(self) -> None:
        """The master closed the enrolment connection before answering: at its limits (a fleet
        arriving at once), or past the connection's lifetime. Try again soon, with jittered
        backoff, on a new connection (so a herd spreads out instead of hammering)."""
        doubled = REFUSED_FIRST * 2 ** min(self.attempts + 1, 7)  # this attempt counted
        self._retry_later(time.monotonic(), _jitter(min(REFUSED_MAX, doubled)))

    def _on_auth_reply(self, rep: AuthReply) -> None:
        assert self.req is not None and self.eph is not None
        now = time.monotonic()
        try:
            master_key = self.pin.check(rep.mpub)
            grant = open_reply(rep, self.req, self.eph, master_key)
        except AuthError as exc:
            log.error("%s: refusing the master's auth reply: %s (retrying in %.0fs)", self.id, exc,
                      self.cfg.acceptance_wait_time)
            self._reset(now, _jitter(self.cfg.acceptance_wait_time))
            return
        self.pin.commit(rep.mpub)
        self.req = self.eph = None
        if grant is None:
            if rep.status != self.status:
                log.warning("%s: master %s says this minion's key is %s%s", self.id, self.cfg.master, rep.status,
                            "; waiting for `pvc key accept`" if rep.status == "pending" else "")
            self.status = rep.status
            self.attempts += 1
            self._reset(now, _jitter(min(60.0, self.cfg.acceptance_wait_time * 1.5 ** min(self.attempts, 10))))
            return
        self.attempts = 0
        self.status = ACCEPTED
        self.channel = Channel(self.id, grant.channel_key)
        self.kid, self.aead = grant.key_id, Aead(grant.session_key)
        self.clock_offset = grant.clock_offset
        self.replay.floor = rep.mtime
        if abs(grant.clock_offset) > 60:
            log.warning("%s: this host's clock is %+.0fs off the master's; jobs are timed by the master's clock",
                        self.id, -grant.clock_offset)
        self.hb_every = max(self.cfg.heartbeat, grant.every)  # before the channel's pings are set
        self._connect(grant.chan_port, grant.master_curve)
        self.state = "authed"
        self.last_hb = self.last_heard = now
        self._send_up(self._heartbeat())  # the first box makes the new session live
        self._send_up(Grains(dict(self.functions.grains)))
        for entry in self.unacked.values():  # not acked by the previous session: send now
            entry.due, entry.wait = 0.0, RESEND_FIRST
        self._resend(now)
        early, self.early_events = self.early_events, deque(maxlen=EARLY_EVENTS)
        for tag, data in early:
            self._fire(tag, data)
        log.info("%s: authenticated with master %s", self.id, self.cfg.master)

    def _connect(self, chan_port: int, master_curve: bytes) -> None:
        """(Re)open the CURVE connection when the master's address or key changed."""
        chan_addr = tcp_endpoint(str(self.cfg.master), self.cfg.channel_port or chan_port, self.cfg.source_address)
        if self.endpoint == (chan_addr, master_curve):
            return
        self._drop_channel()
        self.endpoint = (chan_addr, master_curve)
        self.chan = self._curve(zmq.DEALER, master_curve)
        self.chan.setsockopt(zmq.RCVHWM, 100_000)  # publications of a pipelining client queue here
        # a name of our own: pyzmq's default names it after the socket's descriptor, which a new
        # socket reuses while libzmq's reaper still holds the old monitor's name ("address in use")
        self.monitor = self.chan.get_monitor_socket(_CHANNEL_LOST, addr=f"inproc://pvc-monitor-{next(_MONITORS)}")
        self.chan.connect(chan_addr)
        for sock in (self.chan, self.monitor):
            self.loop.register(sock, self)

    def _drop_channel(self) -> None:
        """Close the CURVE connection now, not at the next auth: a swarm process re-authenticating
        2,500 identities would otherwise hold their old and new sockets at once (~6 descriptors
        each, near a 20,000-descriptor limit)."""
        self._unwatch()
        for sock in (self.chan, self.monitor):
            if sock is not None:
                self.loop.close_later(sock)
        self.chan = self.monitor = None
        self.endpoint = ("", b"")

    def _unwatch(self) -> None:
        """Switch the channel's monitor off before its reader closes. libzmq sends a monitor
        event from its I/O thread, and a send to a closed reader blocks that thread for good:
        every connection of the process stalls. The channel's connection can still end after the
        reader is gone (libzmq's reaper closes the socket later), and once per few master
        restarts under 10,000 minions one swarm process's 2,500 identities never came back."""
        if self.chan is not None and self.monitor is not None:
            self.chan.disable_monitor()

    def _curve(self, kind: int, server: bytes) -> zmq.Socket:
        sock = self._socket(kind)
        sock.setsockopt(zmq.CURVE_SERVERKEY, server)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.curve_pub)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.curve_secret)
        return sock

    def _on_monitor(self, frames: list[bytes]) -> None:
        """The channel connection dropped, or the master refused our CURVE handshake: it
        restarted, changed its key, or revoked us."""
        if self.state == "authed":
            log.info("%s: lost the channel to master %s; authenticating again", self.id, self.cfg.master)
            self._drop_channel()  # libzmq does not retry a refused handshake: new sockets
            self._reset(time.monotonic(), _jitter(0.5))

    def _on_channel(self, frames: list[bytes]) -> None:
        if len(frames) != 1:
            raise ProtocolError("unexpected multipart message")
        msg = decode(frames[0], MINION_CHANNEL_KINDS, self.cfg.max_message_size)
        if msg["k"] == Publication.KIND:
            self._on_publication(Publication.from_map(msg))
            return
        if msg["k"] != Sealed.KIND:  # reauth: the master has no session for us
            if self.state == "authed":
                log.info("%s: master asked to authenticate again", self.id)
                self._reset(time.monotonic(), _jitter(0.5))
            return
        if self.channel is None:
            return
        body = self.channel.open_down(Sealed.from_map(msg), self.cfg.max_message_size)
        self.last_heard = time.monotonic()
        if isinstance(body, Ack):
            self.acked_elsewhere(body.jids)
            for sibling in self.siblings:  # an ack for a return we carried for another master
                sibling.acked_elsewhere(body.jids)
        elif isinstance(body, Rekey):
            self._on_rekey(body)
        elif isinstance(body, JobBox):
            self._run(body.job)
        elif isinstance(body, Pong):
            self.clock_offset = body.mtime - time.time()
            self.hb_every = max(self.cfg.heartbeat, body.every)
        elif isinstance(body, ANSWERS):
            self.link.deliver(body)
        elif isinstance(body, Kill):
            outcome = self.runner.kill(body.jid) if body.jid in self.running else "unknown"
            log.warning("%s: job %s: kill requested by the master: %s", self.id, body.jid, outcome)

    def _on_rekey(self, body: Rekey) -> None:
        if body.kid > self.kid:
            self.kid, self.aead = body.kid, Aead(body.key)
            stash, self.stash = self.stash, []
            for _, pub in stash:
                self._handle_publication(pub)

    def _on_publication(self, pub: Publication) -> None:
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
        self._run(open_job(pub, self.aead, self.cfg.max_message_size))

    def _run(self, job: Job) -> None:
        self.replay.check(job.jid, job.ts, time.time() + self.clock_offset)
        if not _target(job.tgt, job.tgt_type).matches(self.id, self.functions.grains):
            return
        fun, args, kwargs, jid = job.fun, job.args, job.kwargs, job.jid
        self.running[jid] = (fun, time.monotonic())
        if self.functions.is_inline(fun):
            # no `started` record: an inline function ends in this loop turn and its return is
            # the next write (a crash in between takes the loop with it, and the master marks the
            # job not returned at its deadline); one write less per job for the whole fleet
            self.on_result(jid, self.functions.call(fun, args, kwargs, jid=jid))
            return
        self._spool_call(self.spool.started, jid, fun)
        if job.timeout > 0:
            self.tell_running_at = min(self.tell_running_at, self.running[jid][1] + job.timeout / 2)
        self.runner.submit(lambda: self.functions.call(fun, args, kwargs, jid=jid, master=self.link),
                           lambda ret: self.on_result(jid, ret), jid=jid, fun=fun)

    def on_result(self, jid: str, ret: Return) -> None:
        self.running.pop(jid, None)
        rec = Ret(jid, ReturnRec.of(ret))
        self._send_packed(self._spool_put(jid, rec))

    def _spool_put(self, jid: str, rec: Record) -> bytes:
        """Keep ``rec`` until the master acks it; returns it packed, as the spool keeps it."""
        plain = pack(UP.tagged(rec))
        self._spool_call(self.spool.put, jid, plain)
        # the first resend waits a beat of the pace the master asked (40 s at 10,000 minions), at
        # least RESEND_FIRST: a master acking 10,000 returns of one job takes seconds, and a fleet
        # resending after 3 s sent it 10,000 duplicates to open while it was still behind
        self.unacked[jid] = Unacked(rec, time.monotonic() + max(RESEND_FIRST, self.hb_every))
        return plain

    def _spool_call(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except SpoolError as exc:  # a full disk must not stop jobs: keep going, say why
            log.error("%s: %s", self.id, exc)

    def fire_event(self, tag: str, data: Mapping[str, Any]) -> None:
        """Event sink for modules; called from any thread, so the send runs on the loop."""
        self.runner.call_soon(lambda: self._fire(tag, dict(data)))

    def _fire(self, tag: str, data: dict[str, Any]) -> None:
        if self.channel is None:  # not authenticated yet (a start hook's "connected"): keep it for then
            self.early_events.append((tag, data))
            return
        parts = tag.split("/")
        if len(parts) < 4 or parts[1] != "vm":
            self._send_up(EventMsg(tag, data))
            return
        # keep the VMs we hold in step with libvirt's events: claim a VM before speaking of it,
        # speak of a VM we let go (migrated away, undefined) before letting it go
        held = not (parts[3] in ("undefined", "removed") or (parts[3] == "migrated" and data.get("direction") == "out"))
        if held and parts[2] not in self.vms:
            self.vms.add(parts[2])
            self._send_up(self._heartbeat())
        self._send_up(EventMsg(tag, data))
        if not held and parts[2] in self.vms:
            self.vms.discard(parts[2])
            self._send_up(self._heartbeat())

    def _heartbeat(self) -> Heartbeat:
        """A beat lists every job running, so none of them needs an early one any more."""
        self.tell_running_at = math.inf
        now = time.monotonic()
        running = [RunningJob(jid, fun, now - start) for jid, (fun, start) in list(self.running.items())[:4096]]
        return Heartbeat(sorted(self.vms)[:4096], running, time.time())

    def bye(self) -> bool:
        """Tell the master this identity stops, so that its session ends now instead of timing
        out. Queued on the loop with the other sends: the caller flushes it and gives it time to
        leave before :meth:`close` (LINGER is 0). False when there is no session to end."""
        if self.state != "authed":
            return False
        self._send_up(Bye())
        return True

    def close(self) -> None:
        self._close_enrol()
        self._unwatch()
        for sock in (self.chan, self.monitor):
            if sock is not None:
                sock.close(0)
        self.spool.close()

