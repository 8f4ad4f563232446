"""One key store for the whole cluster: each master's minion keys mirrored through ZooKeeper.

A key accepted (or rejected, deleted, offered) on one master is in that state on every master,
so a minion that serves several masters is accepted once. Every coordinator runs this, primary
or not: it watches its own master's key store (the files ``pvc key`` and enrolment write) and
the cluster's copy under ``<root>/keys``. A change on one side is carried to the other; when both
changed the same key since the last look, ZooKeeper's copy wins — except that a key merely offered
(pending) never overrides a decision (accepted, rejected) about it, on either side: masters see a
minion's offer at nearly the same time, and an operator's accept must not be undone by the
other master's copy of that offer. After changing the local files
it tells its master (``keys_changed``), which reloads them and revokes what must go.

Both sides are read only when they changed: the key directories' mtimes locally, a version
counter (``<root>/keys``' own data) in ZooKeeper — so an idle cluster costs a stat and a read
every ``interval`` seconds, whatever the number of keys.

Example (what the coordinator does)::

    mirror = KeyMirror(client, "/pvc", master_pki_dir, notify=lambda: Client(dir).keys_changed())
    mirror.sync_once()
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Callable

from pvc.cluster.client import ClusterClient
from pvc.master.keystore import STATE_DIRS, KeyStore
from pvc.wire.auth import ACCEPTED, PENDING, REJECTED

log = logging.getLogger(__name__)
INTERVAL = 1.0
MIRRORED = (PENDING, REJECTED, ACCEPTED)  # weakest first: find() then keeps the strongest per id

Entry = tuple[str, bytes]  # (state, raw public key)


def _offered_vs_decided(offer: Entry | None, other: Entry | None) -> bool:
    """``offer`` is a key merely offered (pending) where ``other`` is a decision about it:
    the decision wins, on whichever side it was taken."""
    return offer is not None and other is not None and offer[0] == PENDING and other[0] != PENDING


class KeyMirror:
    name = "key-mirror"

    def __init__(self, client: ClusterClient, root: str, pki_dir: str, notify: Callable[[], object],
                 interval: float = INTERVAL) -> None:
        self.zk = client.zk
        self.path = f"{root.rstrip('/')}/keys"
        self.pki_dir = pki_dir
        self.notify = notify
        self.interval = interval
        self.synced: dict[str, Entry] = {}
        self._local_mark: tuple[float, ...] = ()
        self._remote_mark = -1

    def run(self, stop: threading.Event) -> None:
        self.zk.ensure_path(self.path)
        while not stop.is_set():
            self.sync_once()
            stop.wait(self.interval)

    def sync_once(self) -> None:
        local_mark = self._dir_marks()
        _, stat = self.zk.get(self.path)
        if local_mark == self._local_mark and stat.version == self._remote_mark:
            return
        store = KeyStore(self.pki_dir)
        # one state per id, the strongest; "denied" stays local (this master's record of a refused offer)
        local = {k.id: (k.state, k.raw) for k in store.find(states=MIRRORED)}
        remote = self._remote()
        pushed = pulled = 0
        for mid in sorted(set(local) | set(remote) | set(self.synced)):
            before, here, there = self.synced.get(mid), local.get(mid), remote.get(mid)
            pull = _offered_vs_decided(here, there) or (
                not _offered_vs_decided(there, here) and (there != before or here == before))
            if here == there:
                self._remember(mid, here)
            elif pull:  # changed in the cluster (or both: the cluster's wins), unless it only offers
                self._apply(store, mid, here, there)
                self._remember(mid, there)
                pulled += 1
            else:  # changed here only, or decided here while the cluster only had the offer
                self._publish(mid, here)
                self._remember(mid, here)
                pushed += 1
        if pushed:
            self.zk.set(self.path, str(len(self.synced)).encode())  # bump the version others watch
        _, stat = self.zk.get(self.path)
        self._remote_mark, self._local_mark = stat.version, self._dir_marks()
        if pulled:
            log.info("key mirror: %d key(s) from the cluster applied here", pulled)
            self.notify()
        if pushed:
            log.info("key mirror: %d key change(s) from this master published", pushed)

    def _remember(self, mid: str, entry: Entry | None) -> None:
        if entry is None:
            self.synced.pop(mid, None)
        else:
            self.synced[mid] = entry

    def _dir_marks(self) -> tuple[float, ...]:
        return tuple(os.stat(os.path.join(self.pki_dir, d)).st_mtime_ns for d in STATE_DIRS.values())

    def _remote(self) -> dict[str, Entry]:
        out = {}
        for mid in self.zk.get_children(self.path):
            data, _ = self.zk.get(f"{self.path}/{mid}")
            try:
                record = json.loads(data)
                out[mid] = (str(record["state"]), base64.b64decode(record["pub"]))
            except (ValueError, KeyError, TypeError):
                log.warning("key mirror: ignoring a malformed cluster record for %r", mid)
        return out

    def _publish(self, mid: str, entry: Entry | None) -> None:
        node = f"{self.path}/{mid}"
        if entry is None:
            if self.zk.exists(node):
                self.zk.delete(node)
            return
        data = json.dumps({"state": entry[0], "pub": base64.b64encode(entry[1]).decode()}).encode()
        if self.zk.exists(node):
            self.zk.set(node, data)
        else:
            self.zk.create(node, data)

    @staticmethod
    def _apply(store: KeyStore, mid: str, here: Entry | None, there: Entry | None) -> None:
        for state in MIRRORED:
            if there is None or state != there[0]:
                store.remove(state, mid)
        if there is not None and there[0] in MIRRORED:
            store.put(there[0], mid, there[1])
