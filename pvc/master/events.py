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
    def __init__(self, ctx: zmq.Context, path: str) -> None:
        self.sock = ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.SNDHWM, 100_000)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(f"ipc://{path}")

    def fire(self, tag: str, data: dict[str, Any]) -> None:
        self.sock.send_multipart([tag.encode(), pack({"tag": tag, "data": data, "ts": time.time()})], zmq.NOBLOCK)

    def close(self) -> None:
        self.sock.close(0)
