"""Which master is primary: a ZooKeeper lock contest, with gain and loss as events.

Each master runs one :class:`PrimaryElection`. The contender holding kazoo's ``Lock`` at
``/election`` (lowest ephemeral sequential znode) is primary; it records itself at ``/primary``
in a transaction that also checks its own contender znode, so only the holder can write it.
Leadership is given up as soon as the connection is not CONNECTED (SUSPENDED included): a
partitioned primary stops acting before its session can expire and another one take over.
After SIGKILL of the primary, the next contender wins when the dead session expires, i.e.
about one session timeout later (see ``tests/cluster/test_election.py``).

Example::

    el = PrimaryElection(store, "master-a", on_gain=start_loops, on_loss=stop_loops)
    el.start()
    el.gained.wait(10) and el.is_primary          # True on the one primary
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from pvc.cluster.codec import encode
from pvc.cluster.records import PrimaryRecord
from pvc.cluster.store import ClusterStore
from pvc.ids import validate_minion_id

log = logging.getLogger(__name__)


class PrimaryElection:
    """Contend for primary as ``identifier`` in a thread; ``on_gain``/``on_loss`` run on that
    thread (keep them short: start or stop your loops). ``gained`` and ``lost`` are events."""

    def __init__(self, store: ClusterStore, identifier: str,
                 on_gain: Callable[[], None] | None = None,
                 on_loss: Callable[[], None] | None = None) -> None:
        self.store, self.identifier = store, validate_minion_id(identifier)
        self.on_gain, self.on_loss = on_gain, on_loss
        self.gained = threading.Event()
        self.lost = threading.Event()
        self.gained_at: float | None = None
        self._primary = threading.Event()
        self._stop = threading.Event()
        self._changed = store.client.flag.subscribe()
        self._lock = store.client.zk.Lock(store.schema.path("election"), self.identifier)
        self._thread: threading.Thread | None = None

    @property
    def is_primary(self) -> bool:
        return self._primary.is_set()

    def contenders(self) -> list[str]:
        """Identifiers in line, primary first."""
        return list(self._lock.contenders())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"election-{self.identifier}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Leave the contest (and the primary seat, if held) and join the thread."""
        self._stop.set()
        self._changed.set()
        self._lock.cancel()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        from kazoo.exceptions import CancelledError, KazooException

        flag = self.store.client.flag
        while not self._stop.is_set():
            if not flag.connected.wait(0.2):
                continue
            losses = flag.losses
            try:
                if not self._lock.acquire():
                    continue
            except CancelledError:
                break
            except KazooException as exc:
                log.warning("election %s: %r, contending again", self.identifier, exc)
                continue
            try:
                self._hold(losses)
            finally:
                self._release()

    def _hold(self, losses: int) -> None:
        """Act as primary until the connection wavers or stop() is called."""
        flag = self.store.client.flag
        self._changed.clear()
        if not flag.connected.is_set() or flag.losses != losses or self._stop.is_set():
            return
        try:
            self._record()
        except Exception as exc:  # noqa: BLE001 - not recorded: give the seat back
            log.warning("election %s: could not record primary: %r", self.identifier, exc)
            return
        self.gained_at = time.monotonic()
        self.lost.clear()
        self._primary.set()
        self.gained.set()
        log.info("election: %s is primary", self.identifier)
        if self.on_gain:
            self.on_gain()
        while not self._stop.is_set():
            self._changed.wait()
            self._changed.clear()
            if not flag.connected.is_set() or flag.losses != losses:
                break
        self._primary.clear()
        self.gained.clear()
        self.lost.set()
        log.info("election: %s is no longer primary (%s)", self.identifier, flag.state)
        if self.on_loss:
            self.on_loss()

    def _record(self) -> None:
        """Write ``/primary`` guarded by our contender znode (only the holder can write)."""
        node = str(self._lock.node)
        contender = f"{self._lock.path}/{node}"
        seq = int(node[-10:])
        path = self.store.schema.path("primary")
        data = encode(PrimaryRecord(self.identifier, time.time(), seq))
        zk = self.store.client.zk
        batch = self.store.batch()
        batch.check(contender, 0)
        stat = self.store.client.retry(zk.exists, path)
        batch.set(path, data, None if stat is None else stat.version)
        batch.commit()

    def _release(self) -> None:
        from kazoo.exceptions import KazooException

        try:
            if self.store.client.flag.connected.is_set():
                self._lock.release()
            else:
                self._lock.is_acquired = False  # the znode goes with the session; retry later
        except KazooException as exc:
            log.warning("election %s: release failed: %r", self.identifier, exc)
