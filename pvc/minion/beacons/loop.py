"""The beacon thread: samples each beacon at its interval, fires an event on each edge only.

A threshold beacon fires ``pvc/beacon/<id>/<name>`` with ``state: crossed`` when its alarm goes
on (also on the first sample, if it starts on) and once more with ``state: recovered`` when it
goes off; a steady state fires nothing however long it lasts. A file beacon fires ``state:
changed`` on each change. A check that cannot read (a path gone) is logged once, not fired.

The minion daemon imports this module and starts the thread only when ``beacons:`` is
configured: an idle minion without beacons carries neither.

Example::

    loop = BeaconLoop.start(cfg, fire=functions.events)    # a daemon thread
    loop.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pvc import events
from pvc.execution.context import EventSink
from pvc.minion.beacons.checks import Sample
from pvc.minion.beacons.config import Beacon, parse_beacons

if TYPE_CHECKING:
    from pvc.config import MinionConfig

log = logging.getLogger("pvc.minion.beacons")


def edge(before: Sample | None, now: Sample) -> str | None:
    """What changed between two samples of one beacon, as the event's ``state``; None: nothing."""
    if before is None:
        return "crossed" if now.alarm else None
    if now.state == before.state:
        return None
    if now.alarm and not before.alarm:
        return "crossed"
    if before.alarm and not now.alarm:
        return "recovered"
    return "changed"


class BeaconLoop:
    def __init__(self, beacons: tuple[Beacon, ...], mid: str, fire: EventSink,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.beacons, self.mid, self.fire, self.clock = beacons, mid, fire, clock
        self._last: dict[str, Sample] = {}
        self._failing: set[str] = set()
        self._due = {b.name: 0.0 for b in beacons}  # every beacon samples once at start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def start(cls, cfg: MinionConfig, fire: EventSink) -> BeaconLoop:
        loop = cls(parse_beacons(cfg.beacons), cfg.id, fire)
        loop._thread = threading.Thread(target=loop.run, name="beacons", daemon=True)
        loop._thread.start()
        log.info("beacons: %s", ", ".join(f"{b.name} ({b.check.kind}, every {b.interval:g}s)" for b in loop.beacons))
        return loop

    def run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(max(0.0, self.step(self.clock()) - self.clock()))

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def step(self, now: float) -> float:
        """Sample every beacon that is due; when the next one is."""
        for beacon in self.beacons:
            if self._due[beacon.name] <= now:
                self._due[beacon.name] = now + beacon.interval
                self.sample(beacon)
        return min(self._due.values())

    def sample(self, beacon: Beacon) -> None:
        try:
            now = beacon.check.sample()
        except (OSError, ValueError) as exc:
            if beacon.name not in self._failing:
                self._failing.add(beacon.name)
                log.warning("beacon %s (%s): cannot sample: %s", beacon.name, beacon.check.kind, exc)
            return
        self._failing.discard(beacon.name)
        state = edge(self._last.get(beacon.name), now)
        self._last[beacon.name] = now
        if state is not None:
            self.fire(events.beacon(self.mid, beacon.name),
                      {"beacon": beacon.name, "kind": beacon.check.kind, "state": state, **now.data})
