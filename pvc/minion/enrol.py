"""The minion's side of the enrolment port: one short-lived raw TCP connection per attempt.

Each auth attempt opens a connection, says hello once the connection is up, answers the
challenge, reads the reply and closes. A failed attempt is simply closed and a fresh one
opened later, so nothing half-done lingers, and an idle minion holds no enrolment connection
(the master has room for the strangers it must bound).

A connection the master closed is never reopened by libzmq: a master at its enrolment limits
closes surplus connections at once, and a fleet whose sockets all reopened every 100 ms would
spend those limits (and the master's loop) on the herd instead of on auths. The core sees the
disconnect notice (:attr:`EnrolConnection.dropped`), closes the socket long before libzmq's
reconnect interval, and retries with jittered backoff. A connection that never came up (the
master is down or restarting) is retried by libzmq every 1 s to 4 s, so a fleet is back soon
after its master. (``RECONNECT_IVL -1`` would also swallow libzmq's disconnect notice.)
"""

from __future__ import annotations

from typing import Any

import zmq

from pvc.wire.stream import Deframer, frame

PEER = b"master"
REPLY_MAX = 65536
RECONNECT_MS = 1000  # libzmq's retry of a connect that failed (a dropped one is closed before)


class EnrolConnection:
    def __init__(self, zctx: zmq.Context, address: str) -> None:
        self.sock = zctx.socket(zmq.STREAM)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.CONNECT_ROUTING_ID, PEER)
        self.sock.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
        self.sock.setsockopt(zmq.RECONNECT_IVL_MAX, 4 * RECONNECT_MS)
        self.sock.connect(address)
        self.deframer = Deframer(REPLY_MAX)
        self.up = False
        self.dropped = False  # the connection was up and the master closed it
        self.opening = b""  # said as soon as the connection is up
        self.waiting: list[bytes] = []  # sent before the connection was up

    def send(self, payload: bytes) -> None:
        if not self.up:
            self.waiting.append(payload)
            return
        try:
            self.sock.send_multipart([PEER, frame(payload)], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass  # the connection is gone: the attempt times out and a new one starts

    def on_frames(self, frames: list[Any]) -> list[bytes]:
        """The complete messages these frames finish (the connection notices handled here)."""
        if len(frames) != 2:
            return []
        data = frames[1]
        if not data:  # libzmq's notice: connected (first) or disconnected
            self.up = not self.up
            self.dropped = not self.up
            if self.up:
                waiting, self.waiting = self.waiting, []
                if self.opening and self.opening not in waiting:
                    waiting.insert(0, self.opening)
                for payload in waiting:
                    self.send(payload)
            return []
        return self.deframer.feed(data)

    def close(self) -> None:
        self.sock.close(0)
