"""Move a VM to another node's libvirt: live, or by shutdown -> start, as the VM's policy allows.

Live migration is peer-to-peer: the source libvirtd talks to the destination itself (``dest_uri``
must be reachable *from the source daemon*), and QEMU's stream goes to an explicit data URI
(``tcp://<host>``) so it never depends on how the hostname resolves. The source definition is
removed only after the completed job's statistics (total time, the downtime QEMU measured) have
been read from it; a live attempt that outlasts ``timeout`` is aborted (a stalled stream would
otherwise block forever) and counts as failed. The ``method`` (one of
:data:`~pvc.virt.domain.MIGRATION_METHODS`) decides what happens when every live attempt failed:
"live" gives up, "live-or-shutdown" shuts the VM down (ACPI, then destroy), defines and starts it
on the destination and undefines it here. A VM that is not running just has its definition moved
("offline").

Example::

    plan = MigrationPlan(dest_uri="qemu+tcp://hv2/system", data_uri="tcp://10.0.0.2", retries=2)
    outcome = migrate(dom, plan)    # Outcome(method="live", attempts=1, downtime_ms=31, ...)
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Self
from urllib.parse import urlsplit

from pvc.errors import InvalidArgument, PvcError
from pvc.virt.connection import open_uri, reason
from pvc.virt.domain import MIGRATION_METHODS
from pvc.virt.errors import MigrationFailed, MigrationTimeout
from pvc.virt.power import shutdown, undefine

PROGRESS_EVERY_S = 0.25
MAX_PROGRESS_SAMPLES = 40
RETRY_DELAY_S = 1.0
MAX_RETRIES = 10


@dataclass(frozen=True)
class MigrationPlan:
    dest_uri: str
    method: str = MIGRATION_METHODS[0]
    data_uri: str | None = None
    max_downtime_ms: int | None = None
    retries: int = 0
    timeout: float = 300.0
    shutdown_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.method not in MIGRATION_METHODS:
            raise InvalidArgument(f"virt.migrate: method must be one of {', '.join(MIGRATION_METHODS)}, "
                                  f"got {self.method!r}")
        if not _is_int(self.retries) or not 0 <= self.retries <= MAX_RETRIES:
            raise InvalidArgument(f"virt.migrate: retries must be an integer between 0 and {MAX_RETRIES}")
        if not isinstance(self.timeout, (int, float)) or isinstance(self.timeout, bool) or self.timeout <= 0:
            raise InvalidArgument("virt.migrate: timeout must be a positive number of seconds")
        if self.max_downtime_ms is not None and (not _is_int(self.max_downtime_ms) or self.max_downtime_ms < 1):
            raise InvalidArgument("virt.migrate: max_downtime_ms must be a positive number of milliseconds")


@dataclass(frozen=True)
class Outcome:
    """How the VM moved: ``method`` "live", "shutdown" or "offline"; ``errors`` of failed live
    attempts; ``duration`` (s) of the whole call; for a live move, what QEMU measured: the
    guest's pause (``downtime_ms``), the job's time and the memory sent, plus progress samples."""

    method: str
    attempts: int
    duration: float
    errors: list[str] = field(default_factory=list)
    downtime_ms: int | None = None
    time_ms: int | None = None
    memory_bytes: int | None = None
    progress: list[dict[str, Any]] = field(default_factory=list)
    shutdown: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def data_uri(dest_uri: str, data_host: str = "", default_host: str = "") -> str | None:
    """Where QEMU's stream goes: ``tcp://<data_host>``, else the host ``dest_uri`` names (the node
    the control connection reaches), else ``default_host``, else None (libvirt then uses the
    destination's hostname). Hosts given are used as written (``10.0.0.2``, ``[fd00::2]:49152``).

    Example: ``data_uri("qemu+tcp://10.0.0.2/system") == "tcp://10.0.0.2"``
    """
    named = urlsplit(dest_uri).hostname or ""
    host = data_host or (f"[{named}]" if ":" in named else named) or default_host
    return f"tcp://{host}" if host else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def migrate(dom: Any, plan: MigrationPlan) -> Outcome:
    """Move ``dom`` to ``plan.dest_uri`` as ``plan.method`` allows; MigrationFailed when it cannot."""
    import libvirt

    start = time.monotonic()
    errors: list[str] = []
    attempts = 0
    running = bool(dom.isActive())
    if running and plan.method != "shutdown":
        for attempts in range(1, plan.retries + 2):
            try:
                live = _live(dom, plan, libvirt)
                return Outcome("live", attempts, round(time.monotonic() - start, 3), errors, **live)
            except (libvirt.libvirtError, MigrationTimeout) as exc:
                errors.append(reason(exc) if isinstance(exc, libvirt.libvirtError) else str(exc))
                if attempts <= plan.retries:
                    time.sleep(RETRY_DELAY_S)
        if plan.method == "live":
            raise MigrationFailed(f"virt: live migration of {dom.name()} to {plan.dest_uri} failed after "
                                  f"{attempts} attempt(s) (its policy allows no shutdown): {errors[-1]}")
    how = _cold(dom, plan, errors)
    return Outcome("shutdown" if running else "offline", attempts, round(time.monotonic() - start, 3), errors,
                   shutdown=how)


def _live(dom: Any, plan: MigrationPlan, libvirt: Any) -> dict[str, Any]:
    persistent = dom.isPersistent()
    flags = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST
    if not persistent:
        flags |= libvirt.VIR_MIGRATE_UNDEFINE_SOURCE  # nothing to read back from a vanished transient domain
    params = {libvirt.VIR_MIGRATE_PARAM_URI: plan.data_uri} if plan.data_uri else {}
    if plan.max_downtime_ms is not None:
        dom.migrateSetMaxDowntime(plan.max_downtime_ms, 0)
    with _JobWatch(dom, plan.timeout) as watch:
        try:
            dom.migrateToURI3(plan.dest_uri, params, flags)
        except libvirt.libvirtError:
            if watch.aborted:
                raise MigrationTimeout(f"aborted after {plan.timeout:g}s (migration timeout)") from None
            raise
    stats = _completed_stats(dom, libvirt)
    if persistent:
        undefine(dom)
    return {"downtime_ms": stats.get("downtime"), "time_ms": stats.get("time_elapsed"),
            "memory_bytes": stats.get("memory_processed"), "progress": watch.samples}


def _completed_stats(dom: Any, libvirt: Any) -> dict[str, Any]:
    try:
        return dict(dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED))
    except libvirt.libvirtError:
        return {}  # stats are a bonus; a migrated transient domain has none left to read


def _cold(dom: Any, plan: MigrationPlan, live_errors: list[str]) -> str:
    """Shut down here, define (and start, if it ran) there, undefine here; returns how it stopped.

    The destination is reached before anything is stopped; if it then refuses the VM, the VM is
    started here again, so a failed move costs a restart, never the VM.
    """
    import libvirt

    name = dom.name()
    xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE | libvirt.VIR_DOMAIN_XML_SECURE)
    was_running, persistent = bool(dom.isActive()), bool(dom.isPersistent())
    tried = f" (live attempts: {'; '.join(live_errors)})" if live_errors else ""
    try:
        dest = open_uri(plan.dest_uri)
    except PvcError as exc:
        raise MigrationFailed(f"virt: cannot move {name}: {exc}{tried}") from None
    try:
        how = shutdown(dom, plan.shutdown_timeout, force=True)
        try:
            _define_there(dest, xml, was_running)
        except libvirt.libvirtError as exc:
            back = _start_again(dom, xml, was_running, persistent, libvirt)
            raise MigrationFailed(f"virt: {plan.dest_uri} refused {name}: {reason(exc)}; {back}{tried}") from None
    finally:
        dest.close()
    if persistent:
        undefine(dom)
    return how


def _define_there(dest: Any, xml: str, start: bool) -> None:
    moved = dest.defineXML(xml)
    if start:
        try:
            moved.create()
        except Exception:
            moved.undefine()  # a VM is defined on one node only
            raise


def _start_again(dom: Any, xml: str, was_running: bool, persistent: bool, libvirt: Any) -> str:
    if not was_running:
        return "it stays defined here"
    try:
        if persistent:
            dom.create()
        else:
            dom.connect().createXML(xml, 0)
    except libvirt.libvirtError as exc:
        return f"starting it here again failed too: {reason(exc)}"
    return "it was started here again"


class _JobWatch:
    """While ``migrateToURI3`` blocks: sample the job's progress (bounded count) and abort the job
    once it has run for ``timeout`` seconds."""

    def __init__(self, dom: Any, timeout: float) -> None:
        self.dom = dom
        self.deadline = time.monotonic() + timeout
        self.samples: list[dict[str, Any]] = []
        self.aborted = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="virt-migrate-watch", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(PROGRESS_EVERY_S):
            try:
                if time.monotonic() >= self.deadline:
                    self.aborted = True
                    self.dom.abortJob()
                    return
                job = self.dom.jobStats()
            except Exception:  # noqa: BLE001, S112 - the domain may vanish as the migration completes
                continue
            if job.get("type", 0) != 0 and len(self.samples) < MAX_PROGRESS_SAMPLES:  # 0: no job (yet)
                self.samples.append({k: job.get(k) for k in
                                     ("time_elapsed", "data_processed", "data_remaining", "memory_dirty_rate")})
