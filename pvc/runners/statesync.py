"""VM state sync: libvirt's lifecycle events on the master's bus -> each VM's observed state in ZK.

Minions forward libvirt events as ``pvc/vm/<name>/started|stopped|migrated|crashed``; this service
(run by the coordinator on the primary) subscribes to them on its local master's event bus and
writes the VM's :class:`~pvc.runners.tree.VMStatus` within milliseconds. A node's libvirt
(re)connection (``pvc/virt/<node>/connected``) means events may have been missed: that node is
re-read with ``virt.list``; so is every node when the service starts (a new primary).

Example::

    sync = VMStateSync(ctx, master_config)
    threading.Thread(target=sync.run, args=(stop,)).start()
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pvc.config import MasterConfig
from pvc.runners.bus import BusEvents
from pvc.runners.context import RunnerContext
from pvc.runners.tree import VMStatus

VM_PREFIX = "pvc/vm/"
VIRT_PREFIX = "pvc/virt/"
# event -> observed state ("migrated" out is left to the destination's "migrated" in)
_STATES = {"started": "running", "stopped": "stopped", "crashed": "crashed"}


class VMStateSync:
    name = "vm-state-sync"

    def __init__(self, ctx: RunnerContext, cfg: MasterConfig) -> None:
        self.ctx, self.cfg = ctx, cfg
        self.applied = 0

    def run(self, stop: threading.Event) -> None:
        with BusEvents(self.cfg, VM_PREFIX, VIRT_PREFIX) as bus:
            self.ctx.tree.ensure()
            self.resync(None)
            while not stop.is_set():
                event = bus.next(0.2)
                if event is None:
                    continue
                try:
                    self.handle(*event)
                except Exception as exc:  # noqa: BLE001 - one bad event never ends the sync
                    self.ctx.log.warning("state sync: event dropped: %s", exc)

    def handle(self, tag: str, data: dict[str, Any]) -> None:
        parts = tag.split("/")
        if tag.startswith(VIRT_PREFIX) and len(parts) == 4 and parts[3] == "connected":
            self.resync([parts[2]])
        elif tag.startswith(VM_PREFIX) and len(parts) == 4:
            self.apply(parts[2], parts[3], data)

    def apply(self, name: str, what: str, data: dict[str, Any]) -> None:
        node = data.get("node") if isinstance(data.get("node"), str) else None
        if what == "migrated":
            if data.get("direction") != "in":
                return
            state = "running"
        elif what in _STATES:
            state = _STATES[what]
        else:
            return
        if not self._managed(name):
            return
        self.ctx.tree.put_status(VMStatus(name, state, node, time.time(), what))
        self.applied += 1

    def _managed(self, name: str) -> bool:
        from pvc.cluster.errors import RecordNotFound

        try:
            self.ctx.store.vm(name)
        except RecordNotFound:
            return False
        return True

    def resync(self, nodes: list[str] | None) -> None:
        """Read what libvirt holds on ``nodes`` (None: every node) and record it."""
        managed = {v.record.name: v.record.node for v in self.ctx.store.vms()}
        names = nodes if nodes is not None else [n.record.name for n in self.ctx.store.nodes()]
        for node, rows in self.ctx.jobs.each(names, "virt.list", timeout=10).items():
            for row in rows or []:
                if isinstance(row, dict) and row.get("name") in managed:
                    state = "stopped" if row.get("state") == "shutoff" else str(row.get("state"))
                    if state == "stopped" and managed[row["name"]] != node:
                        continue  # a stale definition (a fenced node, back): the VM lives elsewhere
                    self.ctx.tree.put_status(VMStatus(str(row["name"]), state, node, time.time(), "resync"))
