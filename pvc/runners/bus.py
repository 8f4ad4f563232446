"""Events from the local master's bus, decoded and checked, for the coordinator's services.

One SUB socket subscribed to some tag prefixes; :meth:`BusEvents.next` waits up to a timeout and
returns ``(tag, data)`` or None. Frames are hostile until checked: the size is bounded before
decoding, and anything that is not a map with a string tag and a map of data is dropped. The
socket subscribes when the object is made, so a service that reads state right after (a resync)
misses no event fired meanwhile.

Example::

    with BusEvents(master_cfg, "pvc/vm/", "pvc/virt/") as bus:
        resync()
        while not stop.is_set():
            event = bus.next(0.2)         # ("pvc/vm/vm1/crashed", {"node": "hv1", ...}) or None
"""

from __future__ import annotations

from typing import Any, Self

from pvc.client import listen
from pvc.config import MasterConfig
from pvc.wire.codec import unpack

MAX_EVENT = 1024 * 1024


class BusEvents:
    def __init__(self, cfg: MasterConfig, *prefixes: str) -> None:
        import zmq

        self.sock = listen(cfg, prefixes[0] if prefixes else "")
        for prefix in prefixes[1:]:
            self.sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())

    def next(self, timeout: float) -> tuple[str, dict[str, Any]] | None:
        """The next well-formed event within ``timeout`` seconds, else None."""
        if not self.sock.poll(int(timeout * 1000)):
            return None
        frames = self.sock.recv_multipart()
        if len(frames) != 2 or len(frames[1]) > MAX_EVENT:
            return None
        try:
            event = unpack(frames[1], MAX_EVENT)
        except Exception:  # noqa: BLE001 - a malformed event is dropped, never raised into a service
            return None
        if not isinstance(event, dict) or not isinstance(event.get("tag"), str) or not isinstance(event.get("data"), dict):
            return None
        return event["tag"], event["data"]

    def close(self) -> None:
        self.sock.close(0)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
