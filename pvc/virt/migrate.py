"""Live migration to another node's libvirt, with retries and an optional shutdown fallback.

Peer-to-peer: the source libvirtd talks to the destination itself (``dest_uri`` must be reachable
*from the source daemon*), and QEMU's stream goes to an explicit data URI (``tcp://<host>``) so it
never depends on how the hostname resolves. The source definition is removed only after the
completed job's statistics (total time, the downtime QEMU measured) have been read from it.
When every live attempt fails and ``fallback="shutdown"``, the VM is shut down (ACPI, then
destroy), defined and started on the destination, and undefined here.

Example::

    plan = MigrationPlan(dest_uri="qemu+tcp://hv2/system", data_uri="tcp://10.0.0.2", retries=2)
    result = migrate(dom, plan)    # {"method": "live", "attempts": 1, "downtime_ms": 31, ...}
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Self

from pvc.errors import InvalidArgument
from pvc.virt.connection import open_uri
from pvc.virt.errors import MigrationFailed
from pvc.virt.power import shutdown

FALLBACKS = ("shutdown", None)
PROGRESS_EVERY_S = 0.25
MAX_PROGRESS_SAMPLES = 40
RETRY_DELAY_S = 1.0


@dataclass(frozen=True)
class MigrationPlan:
    dest_uri: str
    data_uri: str | None = None
    live: bool = True
    max_downtime_ms: int | None = None
    retries: int = 0
    fallback: str | None = "shutdown"
    shutdown_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.fallback not in FALLBACKS:
            raise InvalidArgument(f"virt.migrate: fallback must be 'shutdown' or None, got {self.fallback!r}")
        if not _is_int(self.retries) or not 0 <= self.retries <= 10:
            raise InvalidArgument("virt.migrate: retries must be an integer between 0 and 10")
        if self.max_downtime_ms is not None and (not _is_int(self.max_downtime_ms) or self.max_downtime_ms < 1):
            raise InvalidArgument("virt.migrate: max_downtime_ms must be a positive number of milliseconds")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def migrate(dom: Any, plan: MigrationPlan) -> dict[str, Any]:
    """Move ``dom`` to ``plan.dest_uri``; return how (live/shutdown), attempts, timings and progress."""
    import libvirt

    start = time.monotonic()
    errors: list[str] = []
    attempts = 0
    if plan.live:
        for attempts in range(1, plan.retries + 2):
            try:
                result = _live(dom, plan, libvirt)
                return {**result, "method": "live", "attempts": attempts, "errors": errors,
                        "duration": round(time.monotonic() - start, 3)}
            except libvirt.libvirtError as exc:
                errors.append(exc.get_error_message() or str(exc))
                if attempts <= plan.retries:
                    time.sleep(RETRY_DELAY_S)
    if plan.fallback is None:
        raise MigrationFailed(f"virt: live migration of {dom.name()} to {plan.dest_uri} failed "
                              f"after {attempts} attempt(s): {errors[-1] if errors else 'live migration not allowed'}")
    try:
        how = _cold(dom, plan)
    except libvirt.libvirtError as exc:
        raise MigrationFailed(f"virt: shutdown migration of {dom.name()} to {plan.dest_uri} failed: "
                              f"{exc.get_error_message()} (live attempts: {errors or 'none'})") from None
    return {"method": "shutdown", "shutdown": how, "attempts": attempts, "errors": errors,
            "duration": round(time.monotonic() - start, 3), "downtime_ms": None, "progress": []}


def _live(dom: Any, plan: MigrationPlan, libvirt: Any) -> dict[str, Any]:
    persistent = dom.isPersistent()
    flags = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST
    if not persistent:
        flags |= libvirt.VIR_MIGRATE_UNDEFINE_SOURCE  # nothing to read back from a vanished transient domain
    params = {libvirt.VIR_MIGRATE_PARAM_URI: plan.data_uri} if plan.data_uri else {}
    if plan.max_downtime_ms is not None:
        dom.migrateSetMaxDowntime(plan.max_downtime_ms, 0)
    with _ProgressSampler(dom) as sampler:
        dom.migrateToURI3(plan.dest_uri, params, flags)
    stats = _completed_stats(dom, libvirt)
    if persistent:
        dom.undefine()
    return {"downtime_ms": stats.get("downtime"), "time_ms": stats.get("time_elapsed"),
            "memory_bytes": stats.get("memory_processed"), "progress": sampler.samples}


def _completed_stats(dom: Any, libvirt: Any) -> dict[str, Any]:
    try:
        return dict(dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED))
    except libvirt.libvirtError:
        return {}  # stats are a bonus; a migrated transient domain has none left to read


def _cold(dom: Any, plan: MigrationPlan) -> str:
    import libvirt

    xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE | libvirt.VIR_DOMAIN_XML_SECURE)
    was_running = bool(dom.isActive())
    how = shutdown(dom, plan.shutdown_timeout, force=True)
    dest = open_uri(plan.dest_uri)
    try:
        moved = dest.defineXML(xml)
        if was_running:
            moved.create()
    finally:
        dest.close()
    if dom.isPersistent():
        dom.undefine()
    return how


class _ProgressSampler:
    """Samples the running migration job in a thread (bounded count) while ``migrateToURI3`` blocks."""

    def __init__(self, dom: Any) -> None:
        self.dom = dom
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="virt-migrate-progress", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(PROGRESS_EVERY_S) and len(self.samples) < MAX_PROGRESS_SAMPLES:
            try:
                job = self.dom.jobStats()
            except Exception:  # noqa: BLE001 - the domain may vanish as the migration completes
                return
            if job.get("type", 0) == 0:  # VIR_DOMAIN_JOB_NONE: not started yet or finished
                continue
            self.samples.append({k: job.get(k) for k in
                                 ("time_elapsed", "data_processed", "data_remaining", "memory_dirty_rate")})
