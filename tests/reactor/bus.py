"""A test's ear on a master's event bus: collects ``(tag, data)`` and waits, bounded, for them.

Example::

    with Bus(master_cfg, "pvc/reactor/") as bus:
        bus.ready(client)                               # the subscription is live
        bus.wait(lambda evs: len(evs) >= 1, 10, "a reactor event")
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Self

from pvc.client import Client, listen
from pvc.config import MasterConfig
from pvc.wire.codec import unpack

Event = tuple[str, dict[str, Any]]


class Bus:
    def __init__(self, cfg: MasterConfig, prefix: str) -> None:
        self.prefix = prefix
        self.sock = listen(cfg, prefix)
        self.events: list[Event] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close(0)

    def pump(self, timeout: float) -> None:
        """Read everything that arrives within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if self.sock.poll(int(left * 1000) + 1):
                _, body = self.sock.recv_multipart()
                event = unpack(body)
                self.events.append((event["tag"], event["data"]))

    def ready(self, client: Client, timeout: float = 10.0) -> None:
        """Fire probes under the prefix until one comes back (ZeroMQ joins subscribers late)."""
        probe = f"{self.prefix.rstrip('/')}/bus-probe/{time.monotonic_ns()}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            client.fire_event(probe, {})
            self.pump(0.2)
            if any(tag == probe for tag, _ in self.events):
                self.events = [e for e in self.events if not e[0].startswith(probe)]
                return
        raise TimeoutError(f"no probe back on the event bus under {self.prefix} within {timeout:g}s")

    def tagged(self, tag: str) -> list[dict[str, Any]]:
        return [data for t, data in self.events if t == tag]

    def wait(self, cond: Callable[[list[Event]], object], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not cond(self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}; got {self.events[-10:]}")
            self.pump(0.01)
