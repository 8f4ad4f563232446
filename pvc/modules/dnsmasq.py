"""The ``dnsmasq`` module: DHCP and DNS for managed networks, one dnsmasq per network.

``start`` renders the network's config and (re)starts its instance only when the config
changed; reservations are edited in the instance's hosts file and applied with SIGHUP (no
restart, leases kept); ``leases`` reads the lease file back.

Example::

    pvc call dnsmasq.start vnet1 bridge=br1 range_start=10.50.0.100 range_end=10.50.0.150 domain=lab.test
    pvc call dnsmasq.reservation_present vnet1 02:00:00:00:aa:02 10.50.0.20 hostname=vm2
    pvc call dnsmasq.leases vnet1
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pvc.dnsmasq import daemon
from pvc.dnsmasq.config import (
    DhcpNetwork,
    Paths,
    Reservation,
    mac_address,
    parse_hosts,
    render_conf,
    render_hosts,
    reservations_of,
)
from pvc.dnsmasq.leases import parse_leases
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec


@dataclass(frozen=True)
class DnsmasqConfig:
    """``run_dir`` holds one directory per network (config, hosts, leases, pid file, log);
    ``user`` is the user dnsmasq runs as (root keeps the files in ``run_dir`` writable)."""

    run_dir: str = "/run/pvc/dnsmasq"
    binary: str = "dnsmasq"
    user: str = "root"
    timeout: float = 10.0


def _paths(ctx: ExecContext, network: str) -> Paths:
    return Paths.of(ctx.config.run_dir, network)


def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def _write(path: str, text: str) -> None:
    """Replace ``path`` atomically, so dnsmasq never reads half a file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def start(ctx: ExecContext, network: str, bridge: str, range_start: str, range_end: str,
          netmask: str | None = None, lease_time: str = "1h", domain: str | None = None,
          servers: Sequence[str] | None = None, reservations: Sequence[Mapping[str, Any]] | None = None,
          netns: str | None = None) -> dict[str, Any]:
    """Run dnsmasq for ``network`` on ``bridge`` with this DHCP range, DNS ``domain`` and upstream
    ``servers``; ``reservations`` (``[{"mac", "ip", "hostname"}]``), when given, replace the
    network's reservations. Unchanged config and running: nothing happens. Changed: restart.

    Example: ``pvc call dnsmasq.start vnet1 bridge=br1 range_start=10.50.0.100 range_end=10.50.0.150``
    """
    net = DhcpNetwork.build(network, bridge, range_start, range_end, netmask, lease_time, domain, servers)
    netns_file = None if netns is None else daemon.netns_path(netns)
    paths = _paths(ctx, network)
    conf = render_conf(net, paths, ctx.config.user)
    hosts = None if reservations is None else render_hosts(reservations_of(reservations))
    pid = daemon.running_pid(paths)
    conf_changed = _read(paths.conf) != conf
    hosts_changed = hosts is not None and _read(paths.hosts) != hosts
    if pid is not None and not conf_changed and not hosts_changed:
        return {"changed": False, "pid": pid, "comment": f"dnsmasq for {network} already runs with this config"}
    action = "start" if pid is None else ("restart" if conf_changed else "reload")
    if ctx.test:
        return {"changed": False, "test": True, "pid": pid, "comment": f"would {action} dnsmasq for {network}"}
    os.makedirs(paths.dir, mode=0o755, exist_ok=True)
    if hosts is not None or _read(paths.hosts) is None:
        _write(paths.hosts, hosts or "")
    _write(paths.conf, conf)
    if action == "reload":
        daemon.send(paths, signal.SIGHUP)
    else:
        if pid is not None:
            daemon.stop(paths, ctx.config.timeout)
        pid = daemon.start(paths, ctx.config.binary, netns_file, ctx.config.timeout)
    return {"changed": True, "pid": pid, "comment": f"dnsmasq for {network}: {action}ed (pid {pid})"}


def stop(ctx: ExecContext, network: str) -> dict[str, Any]:
    """Stop the network's dnsmasq (SIGTERM by PID, waiting until it exited).

    Example: ``pvc call dnsmasq.stop vnet1``
    """
    paths = _paths(ctx, network)
    if ctx.test:
        pid = daemon.running_pid(paths)
        return {"changed": False, "test": True, "comment": f"would stop pid {pid}" if pid else "not running"}
    pid = daemon.stop(paths, ctx.config.timeout)
    if pid is None:
        return {"changed": False, "comment": f"dnsmasq for {network} is not running; nothing changed"}
    return {"changed": True, "pid": pid, "comment": f"dnsmasq for {network} stopped (pid {pid})"}


def reload(ctx: ExecContext, network: str) -> dict[str, Any]:
    """Make the network's dnsmasq re-read its hosts file (SIGHUP; the main config needs ``start``).

    Example: ``pvc call dnsmasq.reload vnet1``
    """
    paths = _paths(ctx, network)
    if ctx.test:
        return {"reloaded": False, "test": True, "pid": daemon.running_pid(paths)}
    pid = daemon.send(paths, signal.SIGHUP)
    return {"reloaded": pid is not None, "pid": pid}


def status(ctx: ExecContext, network: str) -> dict[str, Any]:
    """Whether the network's dnsmasq runs, its PID and config path.

    Example: ``pvc call dnsmasq.status vnet1``
    """
    paths = _paths(ctx, network)
    pid = daemon.running_pid(paths)
    return {"running": pid is not None, "pid": pid, "config": paths.conf}


def _set_reservations(ctx: ExecContext, network: str, keep: list[Reservation],
                      comment: str) -> dict[str, Any]:
    paths = _paths(ctx, network)
    text = render_hosts(keep)
    if _read(paths.hosts) == text:
        return {"changed": False, "comment": f"{comment}: already so; nothing changed"}
    if ctx.test:
        return {"changed": False, "test": True, "comment": f"would {comment}"}
    os.makedirs(paths.dir, mode=0o755, exist_ok=True)
    _write(paths.hosts, text)
    pid = daemon.send(paths, signal.SIGHUP)
    return {"changed": True, "reloaded": pid is not None, "comment": comment}


def reservations(ctx: ExecContext, network: str) -> list[dict[str, Any]]:
    """The network's static reservations as ``[{"mac", "ip", "hostname"}]``.

    Example: ``pvc call dnsmasq.reservations vnet1``
    """
    return [r.__dict__.copy() for r in parse_hosts(_read(_paths(ctx, network).hosts) or "")]


def reservation_present(ctx: ExecContext, network: str, mac: str, ip: str,
                        hostname: str | None = None) -> dict[str, Any]:
    """Reserve ``ip`` (and ``hostname``) for ``mac``; applied by SIGHUP, without a restart.

    Example: ``pvc call dnsmasq.reservation_present vnet1 02:00:00:00:aa:02 10.50.0.20 hostname=vm2``
    """
    new = Reservation.build(mac, ip, hostname)
    current = parse_hosts(_read(_paths(ctx, network).hosts) or "")
    keep = [r for r in current if r.mac != new.mac] + [new]
    return _set_reservations(ctx, network, keep, f"reserve {new.ip} for {new.mac}")


def reservation_absent(ctx: ExecContext, network: str, mac: str) -> dict[str, Any]:
    """Drop the reservation of ``mac`` (SIGHUP, no restart).

    Example: ``pvc call dnsmasq.reservation_absent vnet1 02:00:00:00:aa:02``
    """
    mac = mac_address(mac)
    current = parse_hosts(_read(_paths(ctx, network).hosts) or "")
    return _set_reservations(ctx, network, [r for r in current if r.mac != mac], f"drop the reservation of {mac}")


def leases(ctx: ExecContext, network: str) -> list[dict[str, Any]]:
    """Current DHCP leases: ``[{"expires", "mac", "ip", "hostname", "client_id"}]``.

    Example: ``pvc call dnsmasq.leases vnet1``
    """
    return parse_leases(_read(_paths(ctx, network).leases) or "")


SPEC = ModuleSpec(
    "dnsmasq",
    functions=(start, stop, reload, status, reservations, reservation_present, reservation_absent, leases),
    config=DnsmasqConfig,
)
