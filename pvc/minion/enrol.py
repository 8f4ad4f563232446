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

from collections.abc import Callable
from typing import Any

import zmq

from pvc.wire.stream import Deframer, frame

PEER = b"master"
REPLY_MAX = 65536
RECONNECT_MS = 1000  # libzmq's retry of a connect that failed (a dropped one is closed before)
ENROLLING_MAX = 64  # enrolment connections one minion process holds at once (see EnrolSlots)


class EnrolSlots:
    """How many of a process's identities may hold an enrolment connection at once.

    A node has one identity per master and never meets the bound. A swarm process serves
    thousands of identities on one loop: opening a connection for each at once, it answered the
    master's challenges so late that the master's connection table (1,024) stayed full of its
    half-done exchanges, and ~37,000 attempts of a 10,000-identity start were closed unanswered,
    each a socket, a TCP handshake and a close on both sides. Identities without a slot wait in
    line (no connection, nothing counted against the master) and are woken in turn."""

    def __init__(self, limit: int = ENROLLING_MAX) -> None:
        self.limit = limit
        self.held = 0
        # in order of arrival, each waiter once (one that asks again keeps its place): a dict
        self._line: dict[Callable[[], bool], None] = {}

    def take(self, wake: Callable[[], bool]) -> bool:
        """A slot, or False and ``wake()`` is called when one is given back (it says whether
        it still wants one: if not, the next in line is woken)."""
        if self.held < self.limit:
            self.held += 1
            self._line.pop(wake, None)
            return True
        self._line.setdefault(wake)
        return False

    def give_back(self) -> None:
        self.held -= 1
        while self._line:
            wake = next(iter(self._line))
            del self._line[wake]
            if wake():
                return

    def waiting(self) -> int:
        return len(self._line)


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
