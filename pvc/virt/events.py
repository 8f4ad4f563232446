"""libvirt lifecycle events -> pvc bus events ``pvc/vm/<name>/started|stopped|migrated|crashed|undefined``.

libvirt delivers events only on connections opened *after* an event loop implementation is
registered, and only while that loop runs; so the watcher registers libvirt's default loop once
per process, runs it in a daemon thread, and opens its own connection. The libvirt callback only
translates and fires (it must not call back into libvirt); a lost connection just sets a flag
and the watcher thread reconnects (bounded backoff) — kazoo's lesson for listeners. Each
(re)connection fires ``pvc/virt/<node>/connected`` (``reconnect: true`` after a loss): events
may have been missed in the gap, so a listener that tracks VM state should re-read it then.

Example::

    watcher = EventWatcher("qemu:///system", node="hv1", fire=lambda tag, data: print(tag, data))
    watcher.start()      # ... events flow ...
    watcher.close()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from pvc.events import virt_connected, vm

log = logging.getLogger(__name__)

_loop_lock = threading.Lock()
_loop_started = False
TICK_MS = 500           # the loop wakes at least this often, so stop flags are seen
RECONNECT_S = (0.5, 1.0, 2.0, 5.0)

# (libvirt event, detail) -> pvc event; (event, None) is the default for that event.
# Values are libvirt's virDomainEventType / *DetailType numbers (stable ABI).
UNDEFINED, STARTED, STOPPED, CRASHED = 1, 2, 5, 8
_MIGRATED_STARTED, _MIGRATED_STOPPED, _CRASHED_STOPPED, _FAILED_STOPPED = 1, 3, 2, 5
_EVENT_NAMES = {0: "DEFINED", 1: "UNDEFINED", 2: "STARTED", 3: "SUSPENDED", 4: "RESUMED", 5: "STOPPED",
                6: "SHUTDOWN", 7: "PMSUSPENDED", 8: "CRASHED"}
_TABLE: dict[tuple[int, int | None], tuple[str, str]] = {
    (STARTED, _MIGRATED_STARTED): ("migrated", "in"),
    (STARTED, None): ("started", ""),
    (STOPPED, _MIGRATED_STOPPED): ("migrated", "out"),
    (STOPPED, _CRASHED_STOPPED): ("crashed", ""),
    (STOPPED, _FAILED_STOPPED): ("crashed", ""),
    (STOPPED, None): ("stopped", ""),
    (CRASHED, None): ("crashed", ""),
    # the minion lets go of a VM it no longer holds on this event (a move by definition, a removal),
    # so the master takes the VM's events from its new node
    (UNDEFINED, None): ("undefined", ""),
}


def translate(name: str, uuid: str, event: int, detail: int, node: str) -> tuple[str, dict[str, Any]] | None:
    """The pvc (tag, data) for one libvirt lifecycle event, or None when pvc does not report it."""
    hit = _TABLE.get((event, detail)) or _TABLE.get((event, None))
    if hit is None:
        return None
    kind, direction = hit
    data: dict[str, Any] = {"name": name, "uuid": uuid, "node": node,
                            "libvirt_event": _EVENT_NAMES.get(event, str(event)), "detail": detail}
    if direction:
        data["direction"] = direction
    return vm(name, kind), data


def ensure_event_loop() -> None:
    """Register libvirt's default event loop and run it in a daemon thread (once per process)."""
    global _loop_started
    import libvirt

    with _loop_lock:
        if _loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()
        libvirt.virEventAddTimeout(TICK_MS, lambda _timer, _opaque: None, None)

        def run() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()
        _loop_started = True


class EventWatcher:
    """Keeps one event connection to ``uri`` and forwards lifecycle events to ``fire``."""

    def __init__(self, uri: str, node: str, fire: Callable[[str, Mapping[str, Any]], None]) -> None:
        self.uri, self.node, self.fire = uri, node, fire
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._run, name="virt-event-watcher", daemon=True)
        self._conn: Any = None
        self._callback_id: int | None = None
        self.connected = threading.Event()
        self._tried = threading.Event()
        self._reconnect = False

    def start(self, first_connect_s: float = 2.0) -> EventWatcher:
        """Start watching; wait up to ``first_connect_s`` for the first connection attempt so that
        events right after start-up are not missed (a down daemon costs only that wait)."""
        ensure_event_loop()
        self._thread.start()
        self._tried.wait(first_connect_s)
        return self

    def close(self) -> None:
        self._stop.set()
        self._lost.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                self._connect()
                attempt = 0
                self._tried.set()
            except Exception as exc:  # noqa: BLE001 - daemon down: log, back off, retry
                log.warning("virt events: cannot connect to %s: %s", self.uri, exc)
                self._tried.set()
                self._stop.wait(RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)])
                attempt += 1
                continue
            self._lost.wait()
            self._disconnect()
            self._lost.clear()

    def _connect(self) -> None:
        import libvirt

        from pvc.virt.connection import open_uri

        self._conn = open_uri(self.uri)
        self._conn.registerCloseCallback(lambda _conn, _reason, _opaque: self._lost.set(), None)
        self._callback_id = self._conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, None)
        self.connected.set()
        self._safe_fire(virt_connected(self.node), {"node": self.node, "uri": self.uri,
                                                   "reconnect": self._reconnect})
        self._reconnect = True

    def _disconnect(self) -> None:
        self.connected.clear()
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if self._callback_id is not None:
                conn.domainEventDeregisterAny(self._callback_id)
            conn.unregisterCloseCallback()
            conn.close()
        except Exception:  # noqa: BLE001, S110 - the connection may already be gone
            pass

    def _on_lifecycle(self, _conn: Any, dom: Any, event: int, detail: int, _opaque: Any) -> None:
        found = translate(dom.name(), dom.UUIDString(), event, detail, self.node)
        if found is not None:
            self._safe_fire(*found)

    def _safe_fire(self, tag: str, data: Mapping[str, Any]) -> None:
        try:
            self.fire(tag, data)
        except Exception:
            log.exception("virt events: firing %s failed", tag)
