"""The node side of liveness: an ephemeral ``/alive/<node>`` and a periodic node record.

A :class:`NodeKeepalive` runs in the minion of a hypervisor node (the minion gives it a
``resources`` callable; this module imports neither libvirt nor the minion). Every
``interval`` seconds it writes the node record (daemon state ``run``, resources, Unix time); on
start it creates the ephemeral and the record in one batch, on stop it writes ``stopped`` and
deletes the ephemeral in one batch, so a watcher never sees a clean stop as a dead node. When
the session expires (ephemeral gone), the next beat on the new session recreates it.
A fence state (dead, fenced, fence-failed) written by the fencer is kept: return to service is
an explicit operator action, never a side effect of a node coming back.

Example::

    ka = NodeKeepalive(store, "hv1", lambda: NodeResources(memory_total=65536))
    ka.start()
    ...
    ka.stop()
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

from pvc.cluster.errors import ClusterError, RecordNotFound, TransactionConflict
from pvc.cluster.records import FENCE_STATES, DaemonState, NodeRecord, NodeResources
from pvc.cluster.store import ClusterStore

log = logging.getLogger(__name__)


class NodeKeepalive:
    """Writes ``node``'s keepalive every ``interval`` s (None: the cluster's
    ``keepalive_interval``) from its own thread until :meth:`stop`."""

    def __init__(self, store: ClusterStore, node: str,
                 resources: Callable[[], NodeResources], interval: float | None = None) -> None:
        self.store, self.node, self._resources = store, node, resources
        self.interval = interval
        self.beats = 0
        self.errors = 0
        self.last_beat: float | None = None
        self._last_resources = NodeResources()
        self._session: int | None = None  # session id that owns our ephemeral
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._alive_path = store.schema.path("node_alive", node=node)

    def start(self) -> None:
        """Register the node (ephemeral + record, one batch) and start beating."""
        if self.interval is None:
            self.interval = self.store.config().record.keepalive_interval
        self._beat()
        self._thread = threading.Thread(target=self._run, name=f"keepalive-{self.node}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop beating, then write ``stopped`` and drop the ephemeral together."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self._write(DaemonState.STOPPED, register=False, unregister=True)
        except ClusterError as exc:
            log.warning("keepalive %s: could not record the stop: %s", self.node, exc)

    def _run(self) -> None:
        assert self.interval is not None
        while not self._stop.wait(self.interval):
            if not self.store.client.flag.connected.is_set():
                continue  # kazoo reconnects; the next beat after it does re-registers
            try:
                self._beat()
            except Exception as exc:  # noqa: BLE001 - a beat must never end the thread
                self.errors += 1
                log.warning("keepalive %s: beat failed: %s", self.node, exc)

    def _beat(self) -> None:
        try:
            self._last_resources = self._resources()
        except Exception as exc:  # noqa: BLE001 - keep beating with the last known resources
            self.errors += 1
            log.warning("keepalive %s: resources failed (last known kept): %s", self.node, exc)
        session = self.store.client.zk.client_id[0] if self.store.client.zk.client_id else None
        self._write(DaemonState.RUN, register=session != self._session)
        self._session = session
        self.beats += 1
        self.last_beat = time.time()

    def _write(self, state: DaemonState, register: bool, unregister: bool = False) -> None:
        from kazoo.exceptions import NoNodeError

        zk = self.store.client.zk
        if register:  # a stale ephemeral of our previous session (restart) would block create
            try:
                self.store.client.retry(zk.delete, self._alive_path)
            except NoNodeError:
                pass

        def change(current: NodeRecord | None) -> NodeRecord:
            base = current or NodeRecord(self.node)
            keep = base.daemon_state in FENCE_STATES
            return dataclasses.replace(base, daemon_state=base.daemon_state if keep else state,
                                       resources=self._last_resources, keepalive=time.time())

        for attempt in range(5):
            try:
                current = self.store.node(self.node)
                record, version = change(current.record), current.version
            except RecordNotFound:  # first start of this node
                record, version = change(None), None
            batch = self.store.batch()
            batch.put_node(record, version)
            if register:
                batch.create(self._alive_path, ephemeral=True)
            if unregister and zk.exists(self._alive_path):
                batch.delete(self._alive_path)
            try:
                batch.commit()
                return
            except TransactionConflict:
                if attempt == 4:
                    raise
