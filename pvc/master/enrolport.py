"""The enrolment port as a raw TCP socket (ZeroMQ STREAM) with our own framing and limits.

What a stranger can cost the master here is bounded by construction: at most
``MAX_CONNECTIONS`` connections (``MAX_PER_ADDRESS`` from one source address, new ones at
``address_rate`` per second per address), each holding at most one frame of
``max_preauth_size`` bytes and a few chunks in ZeroMQ's queue, closed ``LIFETIME`` seconds after
it opened (an honest exchange takes milliseconds) — and closed at once on any violation (a frame too long, garbage,
a bad challenge, too many messages): strangers get nothing but a closed connection, and must
pay a new TCP handshake to try again.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import zmq

from pvc.errors import AuthError, InvalidMinionId, ProtocolError
from pvc.master.ratelimit import PeerLimiter
from pvc.wire.stream import Deframer, frame

log = logging.getLogger(__name__)
MAX_CONNECTIONS = 1024
MAX_PER_ADDRESS = 256
LIFETIME = 10.0
CHUNKS_QUEUED = 8  # chunks (<= 8 KiB each) libzmq may queue per connection before it stops reading


@dataclass
class Connection:
    address: str
    deframer: Deframer
    opened: float = field(default_factory=time.monotonic)


class EnrolmentPort:
    def __init__(self, sock: zmq.Socket, max_frame: int, address_rate: float,
                 handle: Callable[[bytes, bytes], None]) -> None:
        self.sock = sock  # bound with RCVHWM CHUNKS_QUEUED (set before the bind, or it does not apply)
        self.max_frame = max_frame
        self.handle = handle
        self.conns: dict[bytes, Connection] = {}
        self.per_address: dict[str, int] = {}
        self.new_conns = PeerLimiter(address_rate, 2 * address_rate, max_peers=65_536)
        self.refused = 0
        self._closed: OrderedDict[bytes, None] = OrderedDict()  # ids we closed, whose end notice is due
        self._last_sweep = time.monotonic()

    def on_frames(self, frames: list[zmq.Frame]) -> None:
        if len(frames) != 2:
            return
        conn_id, data = frames[0].bytes, frames[1]
        conn = self.conns.get(conn_id)
        if not data.bytes:  # libzmq's notice: a connection opened (or closed)
            if conn is not None:
                self._forget(conn_id)
            elif conn_id in self._closed:  # the late notice of one we closed
                del self._closed[conn_id]
            else:
                self._opened(conn_id, data)
            return
        if conn is None:
            return
        try:
            for payload in conn.deframer.feed(data.bytes):
                self.handle(conn_id, payload)
        except (ProtocolError, AuthError, InvalidMinionId) as exc:
            self.refused += 1
            log.debug("enrolment: closing a connection from %s: %s", conn.address, exc)
            self.close(conn_id)

    def _opened(self, conn_id: bytes, notice: zmq.Frame) -> None:
        try:
            address = str(notice.get("Peer-Address"))
        except zmq.ZMQError:
            address = "?"
        if (len(self.conns) >= MAX_CONNECTIONS or self.per_address.get(address, 0) >= MAX_PER_ADDRESS
                or not self.new_conns.allow(address.encode(), time.monotonic())):
            self.refused += 1
            self._send_close(conn_id)
            return
        self.conns[conn_id] = Connection(address, Deframer(self.max_frame))
        self.per_address[address] = self.per_address.get(address, 0) + 1

    def send(self, conn_id: bytes, payload: bytes) -> None:
        if conn_id in self.conns:
            try:
                self.sock.send_multipart([conn_id, frame(payload)], zmq.NOBLOCK)
            except zmq.Again:
                self.close(conn_id)

    def close(self, conn_id: bytes) -> None:
        if self._forget(conn_id):
            self._send_close(conn_id)

    def _send_close(self, conn_id: bytes) -> None:
        try:
            self.sock.send_multipart([conn_id, b""], zmq.NOBLOCK)  # STREAM: an empty frame closes
        except zmq.ZMQError:
            pass
        # libzmq may still report this connection's end later: that notice is not a new one
        self._closed[conn_id] = None
        while len(self._closed) > MAX_CONNECTIONS * 64:
            self._closed.popitem(last=False)

    def _forget(self, conn_id: bytes) -> bool:
        conn = self.conns.pop(conn_id, None)
        if conn is None:
            return False
        left = self.per_address.get(conn.address, 1) - 1
        if left:
            self.per_address[conn.address] = left
        else:
            self.per_address.pop(conn.address, None)
        return True

    def sweep(self, now: float) -> None:
        """Close connections open for longer than ``LIFETIME`` (checked at most once a second)."""
        if now - self._last_sweep < 1.0:
            return
        self._last_sweep = now
        for conn_id in [c for c, conn in self.conns.items() if now - conn.opened > LIFETIME]:
            self.close(conn_id)
