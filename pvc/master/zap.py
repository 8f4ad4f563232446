"""ZeroMQ's authentication hook (ZAP): who may even finish a handshake with the master.

libzmq asks this handler about every new connection to the CURVE channel port (each minion's
one connection, which also carries its publications): only a CURVE key registered by a
successful auth of this master may connect, and the connection's ``User-Id`` becomes that
minion's id, so every frame on it is bound to the minion by the transport itself. (The
enrolment port is raw TCP with its own limits: :mod:`pvc.master.enrolport`.)

Strangers therefore can neither send nor receive a single frame on the channel port, a
publication included. Replies are answered from the master's loop, never blocking.

A key may complete only ``HANDSHAKES_PER_AUTH`` handshakes per successful auth (a minion needs
one per session): an accepted minion cannot open thousands of connections, each holding a
descriptor and libzmq buffers of the master, and each able to claim a routing id
(:func:`unpredictable_routing_ids`).
"""

from __future__ import annotations

import ctypes
import logging
import os
from dataclasses import dataclass

import zmq

log = logging.getLogger(__name__)
ZAP_ENDPOINT = "inproc://zeromq.zap.01"
CHANNEL_DOMAIN = b"pvc"
HANDSHAKES_PER_AUTH = 4


def unpredictable_routing_ids() -> None:
    """Seed the C library's ``rand()`` from the kernel's random source; call before creating
    the channel ROUTER.

    A ROUTER names a connection whose peer sent no routing id ``\\x00`` + a counter that starts
    at a ``rand()`` value, but a peer may also choose its own id, and libzmq (4.3.5) aborts the
    whole process when the id it generates for a new connection is one a peer already holds.
    ``rand()`` is never seeded by libzmq, so the counter started at the same value on every run
    and one accepted minion could claim the next ids and stop the master. Seeded, the counter
    starts at one of 2**32 values the peer cannot see.
    """
    ctypes.CDLL(None).srand(int.from_bytes(os.urandom(4), "little"))


@dataclass(slots=True)
class Admission:
    """What a successful auth registered for one CURVE key."""

    mid: str
    handshakes: int = HANDSHAKES_PER_AUTH  # left to complete before the next auth


class ZapHandler:
    def __init__(self, ctx: zmq.Context) -> None:
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(ZAP_ENDPOINT)
        self.keys: dict[bytes, Admission] = {}  # CURVE public key -> its minion and handshake budget
        self.by_id: dict[str, bytes] = {}
        self.refused = 0

    def allow(self, mid: str, curve_pub: bytes) -> None:
        old = self.by_id.get(mid)
        if old is not None and old != curve_pub:
            self.keys.pop(old, None)
        self.keys[curve_pub] = Admission(mid)
        self.by_id[mid] = curve_pub

    def revoke(self, mid: str) -> None:
        key = self.by_id.pop(mid, None)
        if key is not None:
            self.keys.pop(key, None)

    def handle(self, frames: list[bytes], now: float) -> None:
        """One ZAP request: ``[peer, b"", version, request_id, domain, address, identity,
        mechanism, credentials...]``; answer 200 with a user id, or 400."""
        if len(frames) < 8:
            return
        peer, _, version, request_id, domain, address, _, mechanism = frames[:8]
        status, user = b"400", b""
        if domain == CHANNEL_DOMAIN and mechanism == b"CURVE" and len(frames) == 9:
            admitted = self.keys.get(frames[8])
            if admitted is not None and admitted.handshakes > 0:  # the key is the proof; its budget the limit
                admitted.handshakes -= 1
                status, user = b"200", admitted.mid.encode()
        if status != b"200":
            self.refused += 1
            log.debug("handshake refused from %s (%s)", address.decode("ascii", "replace"), domain.decode("ascii", "replace"))
        self.sock.send_multipart([peer, b"", version, request_id, status, b"OK" if user else b"refused", user, b""])

    def close(self) -> None:
        self.sock.close(0)
