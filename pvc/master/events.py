"""The master's event bus: a PUB socket on a local IPC path that ``pvc event listen`` reads.

Frames are ``[tag, msgpack({"tag", "data", "ts"})]``; the tag is the ZMQ topic, so a listener
subscribing to ``pvc/job/`` only receives job events. Tags in use::

    pvc/auth                        {id, status}
    pvc/minion/<id>/start|stop
    pvc/job/<jid>/new               {fun, tgt, tgt_type, minions}
    pvc/job/<jid>/ret/<id>          {ok, data, error, ...}
    pvc/vm/<name>/started|...       forwarded from minions
    (anything)                      from ``pvc event fire``
"""

from __future__ import annotations

import time
from typing import Any

import zmq

from pvc.wire.codec import pack

EVENTS_SOCKET = "events.ipc"
MINION_EVENT_PREFIXES = ("pvc/vm/",)


def minion_may_fire(mid: str, tag: str) -> bool:
    """A minion may only fire events about its VMs or itself, never cluster transitions."""
    return tag.startswith(MINION_EVENT_PREFIXES) or tag.startswith(f"pvc/minion/{mid}/")


class EventBus:
    """An XPUB, so the bus knows whether anyone listens: with no listener, firing an event
    costs nothing (no packing, no send) on the master's hot path."""

    def __init__(self, ctx: zmq.Context, path: str) -> None:
        self.sock = ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.SNDHWM, 100_000)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(f"ipc://{path}")
        self.listeners = 0

    def on_subscription(self, frames: list[bytes]) -> None:
        """XPUB reports each new subscription (\x01...) and each one gone (\x00...)."""
        if frames and frames[0]:
            self.listeners += 1 if frames[0][0] == 1 else -1

    def fire(self, tag: str, data: dict[str, Any]) -> None:
        if self.listeners > 0:
            self.sock.send_multipart([tag.encode(), pack({"tag": tag, "data": data, "ts": time.time()})], zmq.NOBLOCK)

    def close(self) -> None:
        self.sock.close(0)
