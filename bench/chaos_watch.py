"""The chaos run's eyes: a thread that reads every node's libvirt and the open fences all along.

Invariants checked only at the end of a step would miss a VM that ran on two nodes for a second
in between, so :class:`Watcher` samples, four times a second, where each VM runs (read from
every powered-on node's libvirtd by :func:`pvc.lab.invariants.snapshot`, never from ZooKeeper)
and which coordinators own open fences. It keeps only what the checks need, bounded:

* every VM running on two nodes at once (time, VM, nodes), confirmed by reading those nodes
  again (:func:`pvc.lab.invariants.still_running`: a live migration switching over between two
  reads is not one);
* every change of where a VM runs (time, VM, nodes) — when a recovered VM first ran on its
  new node, to compare with the moment its old node was really off;
* every sample where open fences had more than one owner (two fencers at once).

Example::

    with Watcher(Path("/tmp/lab"), store) as watch:
        ...                                  # inflict faults
        watch.since(t0)                      # what it saw from t0 on
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pvc.cluster.errors import ClusterError
from pvc.lab.errors import LabError
from pvc.lab.invariants import snapshot, still_running

EVERY_S = 0.25
MAX_EVENTS = 20_000  # per kind: far more than a run's steps produce; the oldest go first


@dataclass(frozen=True)
class Seen:
    """At ``at`` (Unix time) ``vm`` ran on ``nodes`` (or, for owners, the fences' owners)."""

    at: float
    vm: str
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class Sight:
    """What the watcher saw from some moment on."""

    double_runs: list[Seen]
    moves: list[Seen]
    fencers: list[Seen]   # samples with more than one owner of open fences (vm is "")
    samples: int


class Watcher:
    def __init__(self, lab_dir: Path, store: Any) -> None:
        self.lab_dir, self.store = lab_dir, store
        self.double_runs: deque[Seen] = deque(maxlen=MAX_EVENTS)
        self.moves: deque[Seen] = deque(maxlen=MAX_EVENTS)
        self.fencers: deque[Seen] = deque(maxlen=MAX_EVENTS)
        self.transients: deque[Seen] = deque(maxlen=MAX_EVENTS)  # double runs not seen again: a migration's switch
        self.samples = self.missed = 0
        self._homes: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-watch", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(EVERY_S):
            if not self.try_sample():  # a node powering off mid-read, ZooKeeper losing its leader
                self.missed += 1

    def try_sample(self) -> bool:
        """One sample now; False when a node or ZooKeeper did not answer (try again)."""
        from kazoo.exceptions import KazooException

        try:
            self.sample()
        except (LabError, OSError, KazooException, ClusterError):
            return False
        return True

    def sample(self) -> None:
        """Read every node's libvirt and the open fences once (the thread calls it; so may a check)."""
        from pvc.runners.fencetree import FenceTree

        snap = snapshot(self.lab_dir)
        now = time.time()
        owners = tuple(sorted({f.record.owner for f in FenceTree(self.store).all().values() if f.record.open}))
        with self._lock:
            homes = {vm: tuple(nodes) for vm, nodes in snap.homes().items()}
            for vm in sorted(set(homes) | set(self._homes)):
                where = homes.get(vm, ())
                if len(where) > 1:
                    again = still_running(self.lab_dir, vm, where)
                    (self.double_runs if len(again) > 1 else self.transients).append(Seen(now, vm, where))
                if where != self._homes.get(vm, ()):
                    self.moves.append(Seen(now, vm, where))
            self._homes = homes
            if len(owners) > 1:
                self.fencers.append(Seen(now, "", owners))
            self.samples += 1

    def forget(self, vm: str) -> None:
        """Drop what was seen of ``vm`` (a test that made it run twice on purpose)."""
        with self._lock:
            for seen in (self.double_runs, self.moves):
                kept = [s for s in seen if s.vm != vm]
                seen.clear()
                seen.extend(kept)

    def since(self, t0: float) -> Sight:
        with self._lock:
            return Sight([s for s in self.double_runs if s.at >= t0], [s for s in self.moves if s.at >= t0],
                         [s for s in self.fencers if s.at >= t0], self.samples)
