"""The master's event bus: an XPUB on a local IPC path that ``pvc event listen`` reads.

Frames are ``[tag, msgpack({"tag", "data", "ts"})]``; the tag is the ZMQ topic, so a listener
subscribing to ``pvc/job/`` only receives job events. The tags are built by :mod:`pvc.events`.
"""

from __future__ import annotations

import time
from typing import Any

import zmq

from pvc.wire.codec import pack

EVENTS_SOCKET = "events.ipc"


class EventBus:
    """An XPUB, so the bus knows whether anyone listens: with no listener, firing an event
    costs nothing (no packing, no send) on the master's hot path."""

    def __init__(self, ctx: zmq.Context, path: str, affinity: int = 0) -> None:
        self.sock = ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.AFFINITY, affinity)  # the I/O threads it may use (0: any)
        self.sock.setsockopt(zmq.SNDHWM, 100_000)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(f"ipc://{path}")
        self.listeners = 0

    def on_subscription(self, frames: list[bytes]) -> None:
        """XPUB reports each new subscription (\\x01...) and each one gone (\\x00...)."""
        if frames and frames[0]:
            self.listeners = max(0, self.listeners + (1 if frames[0][0] == 1 else -1))

    def fire(self, tag: str, data: dict[str, Any]) -> None:
        if self.listeners > 0:
            try:
                self.sock.send_multipart([tag.encode(), pack({"tag": tag, "data": data, "ts": time.time()})],
                                         zmq.NOBLOCK)
            except zmq.Again:
                pass  # a slow listener loses events, the master never waits for it

    def close(self) -> None:
        self.sock.close(0)
