"""The ``virt`` module: VMs on this node's libvirt/KVM — lifecycle, stats, console, live migration.

Each call uses the minion's one connection to ``uri`` (reopened after the daemon comes back); a
down daemon gives "libvirt: cannot connect to <uri>: <reason>", an unknown VM a ``DomainNotFound``.
The start hook forwards libvirt lifecycle events to the bus as ``pvc/vm/<name>/started``,
``stopped``, ``migrated`` or ``crashed``.

Minion config::

    modules:
      virt: {uri: "qemu:///system", console_dir: /var/log/pvc/console, migration_host: 10.0.0.1}

Example: ``pvc run hv1 virt.migrate vm1 qemu+tcp://hv2/system max_downtime_ms=300``
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from pvc.errors import InvalidArgument
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec
from pvc.virt import facts
from pvc.virt.connection import libvirt_call
from pvc.virt.domain import check_name, domain_xml, parse_spec
from pvc.virt.errors import DomainStateError
from pvc.virt.events import EventWatcher
from pvc.virt.migrate import MigrationPlan, data_uri
from pvc.virt.migrate import migrate as run_migration
from pvc.virt.power import shutdown as graceful_shutdown
from pvc.virt.power import undefine as remove_definition

MAX_TIMEOUT_S = 3600
STATES = ("nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended")


@dataclass(frozen=True)
class VirtConfig:
    """``migration_host`` is where QEMU's migration stream goes when a destination URI names no
    host (unix-socket URIs on a one-machine cluster); otherwise the stream goes to the URI's host."""

    uri: str = "qemu:///system"
    console_dir: str = "/var/log/pvc/console"
    migration_host: str = ""
    shutdown_timeout: float = 60.0
    migration_timeout: float = 300.0
    events: bool = True


def _libvirt(ctx: ExecContext, what: str) -> AbstractContextManager[Any]:
    """This minion's shared connection, libvirt errors about ``what`` mapped to pvc errors."""
    return libvirt_call(ctx.resources, ctx.config.uri, what)


def _summary(ctx: ExecContext, dom: Any) -> dict[str, Any]:
    state, _max_kib, mem_kib, vcpus, _cpu = dom.info()
    return {"name": dom.name(), "uuid": dom.UUIDString(), "state": STATES[state] if state < len(STATES) else str(state),
            "vcpus": vcpus, "memory": mem_kib // 1024, "node": ctx.minion_id}


def list_(ctx: ExecContext) -> list[dict[str, Any]]:
    """Every VM defined or running here: name, uuid, state, vcpus, memory (MiB), node.

    Example: ``pvc run 'hv*' virt.list``
    """
    with _libvirt(ctx, "list domains") as conn:
        return sorted((_summary(ctx, d) for d in conn.listAllDomains()), key=lambda d: d["name"])


def info(ctx: ExecContext, name: str) -> dict[str, Any]:
    """One VM: the ``list`` fields plus persistence, autostart, CPU time, disks, NICs, serial log
    and its migration policy.

    Example: ``pvc call virt.info vm1``
    """
    with _libvirt(ctx, f"read domain {name}") as conn:
        dom = conn.lookupByName(check_name(name))
        xml = dom.XMLDesc(0)
        return {**_summary(ctx, dom), "persistent": bool(dom.isPersistent()), "autostart": bool(dom.autostart()),
                "cpu_time_ns": dom.info()[4], **facts.devices(xml), "migration": facts.migration_method(xml)}


def define(ctx: ExecContext, xml: str | None = None, **spec: Any) -> dict[str, Any]:
    """Define (or redefine) a VM from domain ``xml``, or from a typed spec: name, vcpus, memory
    (MiB), disks (paths or RBD "pool/image"), nics (bridge names), migration (policy: "live",
    "shutdown" or "live-or-shutdown"); the serial console is logged to ``<console_dir>/<name>.log``.
    A redefined VM keeps its UUID; ``changed`` says whether its definition differs, ``pending``
    that a running VM needs a restart for it. With ``test=True`` only the XML is returned.

    Example: ``pvc call virt.define name=vm1 vcpus=2 memory=1024 disks='["vms/vm1"]' nics='["br0"]'``
    """
    if (xml is None) == (not spec):
        raise InvalidArgument("virt.define: give either xml=... or a VM spec (name=..., vcpus=..., ...), not both")
    if xml is None:
        xml = domain_xml(parse_spec(spec), ctx.config.console_dir)
    root = facts.parse(xml)
    name = check_name(root.findtext("name") or "")
    if ctx.test:
        return {"name": name, "xml": xml, "changed": False}
    os.makedirs(ctx.config.console_dir, exist_ok=True)
    with _libvirt(ctx, f"define domain {name}") as conn:
        import libvirt

        old = _find(conn, name, libvirt)
        if old is not None and root.find("uuid") is None:
            xml = facts.with_uuid(root, old.UUIDString())  # a redefinition, not a second VM of that name
        before = old.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) if old is not None else None
        dom = conn.defineXML(xml)
        changed = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) != before
        return {"name": dom.name(), "uuid": dom.UUIDString(), "changed": changed,
                "pending": changed and bool(dom.isActive())}


def _find(conn: Any, name: str, libvirt: Any) -> Any:
    """The domain called ``name``, or None."""
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise


def undefine(ctx: ExecContext, name: str) -> dict[str, Any]:
    """Remove a stopped VM's definition (its disks stay). A running VM is refused.

    Example: ``pvc call virt.undefine vm1``
    """
    with _libvirt(ctx, f"undefine domain {name}") as conn:
        dom = conn.lookupByName(check_name(name))
        if dom.isActive():
            raise DomainStateError(f"virt: cannot undefine {name}: it is running (shut it down first)")
        remove_definition(dom)
        return {"name": name, "changed": True}


def start(ctx: ExecContext, name: str) -> dict[str, Any]:
    """Start a defined VM; a running one is left alone (``changed: False``).

    Example: ``pvc call virt.start vm1``
    """
    with _libvirt(ctx, f"start domain {name}") as conn:
        dom = conn.lookupByName(check_name(name))
        if dom.isActive():
            return {"name": name, "state": "running", "changed": False}
        dom.create()
        return {"name": name, "state": _summary(ctx, dom)["state"], "changed": True}


def shutdown(ctx: ExecContext, name: str, timeout: float | None = None, force: bool = False) -> dict[str, Any]:
    """Ask the guest to power off (ACPI) and wait up to ``timeout`` s (config ``shutdown_timeout``);
    with ``force=True`` destroy it when the time is up, else fail with a timeout error.

    Example: ``pvc call virt.shutdown vm1 timeout=30 force=True``
    """
    if timeout is None:
        timeout = ctx.config.shutdown_timeout
    if not 0 <= timeout <= MAX_TIMEOUT_S:
        raise InvalidArgument(f"virt.shutdown: timeout must be a number of seconds between 0 and {MAX_TIMEOUT_S}")
    with _libvirt(ctx, f"shut down domain {name}") as conn:
        dom = conn.lookupByName(check_name(name))
        how = graceful_shutdown(dom, timeout, force)
        return {"name": name, "how": how, "changed": how != "already stopped"}


def destroy(ctx: ExecContext, name: str) -> dict[str, Any]:
    """Power a VM off at once (like pulling the plug); a stopped one is left alone.

    Example: ``pvc call virt.destroy vm1``
    """
    with _libvirt(ctx, f"destroy domain {name}") as conn:
        dom = conn.lookupByName(check_name(name))
        if not dom.isActive():
            return {"name": name, "changed": False}
        dom.destroy()
        return {"name": name, "changed": True}


def restart(ctx: ExecContext, name: str, timeout: float | None = None, force: bool = False) -> dict[str, Any]:
    """Shut a VM down (as ``shutdown``) and start it again, so a changed definition takes effect.

    Example: ``pvc call virt.restart vm1 force=True``
    """
    stopped = shutdown(ctx, name, timeout, force)
    started = start(ctx, name)
    return {"name": name, "how": stopped["how"], "state": started["state"], "changed": True}


def stats(ctx: ExecContext, name: str) -> dict[str, Any]:
    """Counters of a running VM: CPU time (ns), memory (KiB), and per disk and per NIC I/O.

    Example: ``pvc call virt.stats vm1``
    """
    with _libvirt(ctx, f"read statistics of {name}") as conn:
        dom = conn.lookupByName(check_name(name))
        if not dom.isActive():
            raise DomainStateError(f"virt: {name} is not running: no statistics")
        devices = facts.devices(dom.XMLDesc(0))
        disks = {}
        for dev in devices["disks"]:
            rd_req, rd_bytes, wr_req, wr_bytes, errors = dom.blockStats(dev)
            disks[dev] = {"rd_req": rd_req, "rd_bytes": rd_bytes, "wr_req": wr_req, "wr_bytes": wr_bytes,
                          "errors": errors}
        nics = {}
        for nic in devices["nics"]:
            if nic["dev"]:
                rx_b, rx_p, rx_e, rx_d, tx_b, tx_p, tx_e, tx_d = dom.interfaceStats(nic["dev"])
                nics[nic["dev"]] = {"rx_bytes": rx_b, "rx_packets": rx_p, "rx_errors": rx_e, "rx_drop": rx_d,
                                    "tx_bytes": tx_b, "tx_packets": tx_p, "tx_errors": tx_e, "tx_drop": tx_d}
        return {"name": name, "cpu_time_ns": dom.info()[4], "memory": dict(dom.memoryStats()),
                "disks": disks, "nics": nics}


def console_log(ctx: ExecContext, name: str, lines: int = 50) -> list[str]:
    """The last ``lines`` lines of the VM's serial console log (a file-backed serial port).

    Example: ``pvc call virt.console_log vm1 20``
    """
    if not 0 <= lines <= 10000:
        raise InvalidArgument("virt.console_log: lines must be an integer between 0 and 10000")
    with _libvirt(ctx, f"read domain {name}") as conn:
        path = facts.devices(conn.lookupByName(check_name(name)).XMLDesc(0))["serial_log"]
    if path is None:
        raise DomainStateError(f"virt: {name} has no file-backed serial console to read")
    try:
        return facts.tail(path, lines)
    except FileNotFoundError:
        return []  # the guest has not written anything yet


def migrate(ctx: ExecContext, name: str, dest_uri: str, method: str | None = None,
            max_downtime_ms: int | None = None, retries: int = 0, data_host: str = "",
            timeout: float | None = None) -> dict[str, Any]:
    """Move a VM to another node's libvirt (``dest_uri`` as the source daemon reaches it), live and
    peer-to-peer, with ``retries`` more attempts, each aborted after ``timeout`` s (config
    ``migration_timeout``); ``method`` overrides the VM's own policy ("live": never stop it;
    "live-or-shutdown": then shut down -> start there; "shutdown": only that).
    Returns method, attempts, duration (s), the downtime QEMU measured (ms) and progress samples.
    ``data_host`` is the destination address for QEMU's stream (``host`` or ``host:port``; default:
    the host in ``dest_uri``, else config ``migration_host``).

    Example: ``pvc run hv1 virt.migrate vm1 qemu+tcp://hv2/system data_host=10.0.0.2 method=live``
    """
    if not dest_uri:
        raise InvalidArgument("virt.migrate: dest_uri must be a libvirt URI, e.g. qemu+tcp://hv2/system")
    stream = data_uri(dest_uri, data_host, ctx.config.migration_host)
    with _libvirt(ctx, f"migrate domain {name}") as conn:
        dom = conn.lookupByName(check_name(name))
        policy = method if method is not None else facts.migration_method(dom.XMLDesc(0))
        plan = MigrationPlan(dest_uri=dest_uri, method=policy, data_uri=stream, max_downtime_ms=max_downtime_ms,
                             retries=retries, timeout=ctx.config.migration_timeout if timeout is None else timeout,
                             shutdown_timeout=ctx.config.shutdown_timeout)
        outcome = run_migration(dom, plan)
    return {"name": name, "dest_uri": dest_uri, "policy": policy, **outcome.to_dict()}


def _watch_events(ctx: ExecContext) -> EventWatcher | None:
    """Start hook: forward this node's libvirt lifecycle events to the pvc bus."""
    if not ctx.config.events:
        return None
    return EventWatcher(ctx.config.uri, ctx.minion_id, ctx.fire_event).start()


SPEC = ModuleSpec(
    "virt",
    functions=(list_, info, define, undefine, start, shutdown, destroy, restart, stats, console_log, migrate),
    requires=("libvirt",),
    config=VirtConfig,
    start=_watch_events,
)
