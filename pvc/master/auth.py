"""Enrolment: the only thing an unauthenticated peer can ask for, and what it costs us.

A peer on the enrolment port may send ``hello`` (answered with a fresh challenge) and ``auth``
(a signed request over that challenge). Everything cheap is checked first, on arrival: frame
size (``max_preauth_size``), the per-connection message rate, the id's charset, and the
challenge — issued to *this* connection, unexpired and unused (a keyed MAC, no state per
stranger). Only then does a request wait for the expensive signature check, in a queue with
at most one request per connection, served round-robin at ``auth_rate`` per second after the
jobs of connected minions. A flood therefore costs the master a bounded queue and delays a
legitimate minion by at most one turn of the round, whatever the number of sockets.

An accepted auth creates a *pending* session: it replaces the minion's live session only when
the minion first uses the new channel (see :class:`pvc.master.sessions.Sessions`), so even a
valid auth exchange cannot silence a working minion on its own.
"""

from __future__ import annotations

import logging
import os
import struct
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from pvc import events
from pvc.config import MasterConfig
from pvc.crypto import equal, mac
from pvc.errors import AuthError, ProtocolError, PvcError
from pvc.ids import validate_minion_id
from pvc.master.keystore import KeyStore
from pvc.master.ratelimit import PeerLimiter, TokenBucket
from pvc.master.sessions import Sessions
from pvc.master.zap import ZapHandler
from pvc.wire.auth import ACCEPTED, DENIED, ReplyParams, check_request, make_reply
from pvc.wire.codec import decode
from pvc.wire.messages import CHALLENGE_LEN, ENROL_KINDS, MAX_BUSY_WAIT, AuthRequest, Busy, Challenge, Hello

log = logging.getLogger(__name__)
CHALLENGE_TTL = 30.0
MAX_QUEUED = 4096          # connections with a request waiting for its signature check
# at most this many seconds of auth work wait in the queue (at the rate the loop achieves): a
# request queued longer outlives its connection (enrolport.LIFETIME, 10 s) and is checked for
# nothing; a fleet larger than the queue is told "busy" (closed) at once and backs off instead
QUEUE_SECONDS = 4.0
MIN_QUEUED = 64
ENROL_RATE = 10.0          # messages per second per enrolment connection (an auth needs two)
USED_MAX = 200_000


@dataclass(slots=True)
class EnrolmentStats:
    """What the enrolment port answered since the master started, fired as the
    ``pvc/master/enrolment`` event when it changed. ``abandoned`` requests were lost from their
    minion's view (it hung up before its answer and must ask again); ``repeated`` ones were
    answered twice (the id's previous answer was never used: it asked again). Both stay 0 while
    the master keeps up, even with a whole fleet coming back after a restart."""

    accepted: int = 0    # answered with a session
    repeated: int = 0    # ... for an id whose previous session was never used
    answered: int = 0    # answered otherwise: pending, rejected, denied
    refused: int = 0     # failed its checks (a bad signature, ...): closed, no answer
    busy: int = 0        # told when to come back (the queue was full)
    abandoned: int = 0   # waited in the queue, its connection closed before the answer
    queued: int = 0      # waiting now


class Challenges:
    """Stateless challenges: issue time + MAC(secret, time | connection), single use."""

    def __init__(self) -> None:
        self._secret = os.urandom(32)
        self._used: OrderedDict[bytes, float] = OrderedDict()

    def issue(self, peer: bytes, now: float) -> bytes:
        head = struct.pack(">Q", int(now * 1000)) + os.urandom(8)  # issue time, and unique
        return head + mac(self._secret, head + peer)[:CHALLENGE_LEN - 16]

    def consume(self, chal: bytes, peer: bytes, now: float) -> None:
        stamp = chal[:8]
        if not equal(chal[16:], mac(self._secret, chal[:16] + peer)[:CHALLENGE_LEN - 16]):
            raise AuthError("auth request answers a challenge this connection was not given")
        if now - struct.unpack(">Q", stamp)[0] / 1000 > CHALLENGE_TTL:
            raise AuthError("auth request answers an expired challenge")
        while self._used and (next(iter(self._used.values())) < now or len(self._used) >= USED_MAX):
            self._used.popitem(last=False)
        if chal in self._used:
            raise AuthError("auth request answers a challenge already used (replay)")
        self._used[chal] = now + CHALLENGE_TTL


class Enrolment:
    def __init__(self, cfg: MasterConfig, params: ReplyParams, keys: KeyStore, sessions: Sessions,
                 zap: ZapHandler, send: Callable[[bytes, bytes], None],
                 fire: Callable[[str, dict], None], open_conn: Callable[[bytes], bool] = lambda peer: True) -> None:
        self.cfg = cfg
        self.open_conn = open_conn  # is this enrolment connection still open?
        self.params = params
        self.keys = keys
        self.sessions = sessions
        self.zap = zap
        self.send = send
        self.fire = fire
        self.challenges = Challenges()
        self.queue: OrderedDict[bytes, AuthRequest] = OrderedDict()  # one per connection, FIFO
        self.bucket = TokenBucket(cfg.auth_rate, cfg.auth_rate)
        self.peers = PeerLimiter(ENROL_RATE, 2 * ENROL_RATE, max_peers=65_536)
        self.stats = EnrolmentStats()
        self._reported = EnrolmentStats()
        self._next_slot = 0.0  # monotonic time of the next come-back slot to hand out
        self.served_rate = cfg.auth_rate  # auths per second the loop achieves while it has a backlog
        self._window = (time.monotonic(), 0)  # (start, auths served since)

    def queue_limit(self) -> int:
        """Requests that may wait: ``QUEUE_SECONDS`` of work at the achieved rate. On a loaded
        master a FIFO of MAX_QUEUED held ~30 s of work: every request outlived its connection,
        none succeeded, and the fleet retried forever (congestion collapse)."""
        return min(MAX_QUEUED, max(MIN_QUEUED, int(self.served_rate * QUEUE_SECONDS)))

    def on_message(self, peer: bytes, payload: bytes) -> None:
        """One frame from enrolment connection ``peer``: cheap checks only (no signature yet).

        Raises ProtocolError, AuthError or InvalidMinionId for anything that should end the
        connection (the caller closes it): too many messages, garbage, a bad challenge."""
        now = time.time()
        if not self.peers.allow(peer, time.monotonic()):
            raise ProtocolError("too many enrolment messages on one connection")
        msg = decode(payload, ENROL_KINDS, self.cfg.max_preauth_size)
        full = peer not in self.queue and len(self.queue) >= self.queue_limit()
        if msg["k"] == Hello.KIND:
            if full:
                self._busy(peer)
            else:
                self.send(peer, Challenge(self.challenges.issue(peer, now)).encode())
            return
        req = AuthRequest.from_map(msg)
        validate_minion_id(req.id)
        self.challenges.consume(req.chal, peer, now)
        if full:
            self._busy(peer)
            return
        self.queue[peer] = req

    def _busy(self, peer: bytes) -> None:
        """The queue is full: tell the minion when to come back (it closes the connection; our
        lifetime sweep closes it for a peer that does not). The times are slots handed out at the
        rate auths are served, after the queued work, so a herd comes back spread out."""
        now = time.monotonic()
        slot = max(now + len(self.queue) / self.served_rate, self._next_slot)
        self._next_slot = slot + 1.0 / self.served_rate
        self.stats.busy += 1
        self.send(peer, Busy(min(MAX_BUSY_WAIT, slot - now)).encode())

    def serve(self, now: float, budget: int = 200) -> None:
        served = 0
        while self.queue and budget > 0:
            budget -= 1
            peer = next(iter(self.queue))
            if not self.open_conn(peer):  # its minion gave up (and asks again): no check, no answer
                del self.queue[peer]
                self.stats.abandoned += 1
                continue
            if not self.bucket.take(1.0, now):
                break
            req = self.queue.pop(peer)
            served += 1
            try:
                self._serve_one(peer, req)
            except AuthError as exc:
                self.stats.refused += 1
                log.debug("auth refused: %s", exc)
            except PvcError as exc:  # e.g. a corrupt key file: refuse this one, keep serving
                log.error("auth of %r failed: %s", req.id, exc)
        self._measure(now, served)

    def due_in(self, now: float) -> float | None:
        """Seconds until :meth:`serve` can answer a queued request (None: nothing queued). The
        loop sleeps that long instead of spinning while the queue waits for ``auth_rate``."""
        return self.bucket.wait(1.0, now) if self.queue else None

    def _measure(self, now: float, served: int) -> None:
        """Once a second: while a backlog waits, the achieved rate is the capacity (smoothed);
        without one, the capacity is unknown and drifts back up to ``auth_rate``."""
        start, count = self._window
        count += served
        if now - start < 1.0:
            self._window = (start, count)
            return
        if self.queue:
            self.served_rate = max(1.0, 0.7 * self.served_rate + 0.3 * count / (now - start))
        else:
            self.served_rate = min(self.cfg.auth_rate, 1.5 * self.served_rate)
        self._window = (now, 0)

    def report(self) -> None:
        """Fire ``pvc/master/enrolment`` (cumulative counts) and log them, if they changed."""
        self.stats.queued = len(self.queue)
        if self.stats == self._reported:
            return
        self._reported = replace(self.stats)
        counts = asdict(self.stats)
        log.info("enrolment: %s", ", ".join(f"{n} {k}" for k, n in counts.items()))
        self.fire(events.ENROLMENT, counts)

    def _serve_one(self, peer: bytes, req: AuthRequest) -> None:
        check_request(req)
        mid = req.id
        state = self.keys.offer(mid, req.pub, self.cfg.auto_accept, self.cfg.max_pending_keys)
        if state == ACCEPTED:
            key = self.sessions.key
            reply, channel = make_reply(req, state, self.params, key.key_id, key.key,
                                        every=self.sessions.pace(self.keys.count(ACCEPTED)))
            self.stats.accepted += 1
            self.stats.repeated += self.sessions.add_pending(mid, channel, req.pub)
            self.zap.allow(mid, req.curve)
        else:
            self.stats.answered += 1
            reply, _ = make_reply(req, state, self.params)
            if state == DENIED:
                log.warning("auth %s: a different key was offered for this id; it is denied "
                            "(see pvc key list --state denied)", mid)
            else:
                log.info("auth %s: key %s", mid, state)
        self.send(peer, reply.encode())
        self.fire(events.AUTH, {"id": mid, "status": state})
