"""A managed network's DHCP/DNS settings, validated, and the dnsmasq files rendered from them.

Everything an instance reads lives in its own directory (``<run_dir>/<network>/``), and the
rendered file is the whole configuration (dnsmasq is started with ``--conf-file`` pointing at
it, so ``/etc/dnsmasq*`` is never read and several instances coexist, each bound to its bridge).
Reservations live in a separate hosts file because dnsmasq re-reads that on SIGHUP, without a
restart.

Example::

    net = DhcpNetwork.build("vnet1", bridge="br1", range_start="10.50.0.100", range_end="10.50.0.150")
    render_conf(net, Paths.of("/run/pvc/dnsmasq", "vnet1"), user="root")
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pvc.errors import InvalidArgument

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_MAC_RE = re.compile(r"([0-9a-f]{2}:){5}[0-9a-f]{2}\Z")
_HOST_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})\Z")
_LEASE_RE = re.compile(r"(infinite|\d+[smhdw]?)\Z")
_DOMAIN_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})\Z")


def _check(value: Any, pattern: re.Pattern[str], what: str, example: str) -> str:
    if not isinstance(value, str) or not pattern.match(value) or ".." in value:
        raise InvalidArgument(f"dnsmasq: {what} {value!r} is not valid (example: {example})")
    return value


def _ip(value: Any, what: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise InvalidArgument(f"dnsmasq: {what} {value!r} is not an IP address") from None


def mac_address(value: Any) -> str:
    """A MAC address in dnsmasq's lower-case form."""
    return _check(value.lower() if isinstance(value, str) else value, _MAC_RE, "MAC address", "02:00:00:00:aa:01")


def network_name(name: Any) -> str:
    """A network name safe to use as a directory name."""
    return _check(name, _NAME_RE, "network name", "vnet1")


@dataclass(frozen=True)
class Reservation:
    """A static lease: this MAC always gets this IP (and, optionally, this host name)."""

    mac: str
    ip: str
    hostname: str | None = None

    @classmethod
    def build(cls, mac: Any, ip: Any, hostname: Any = None) -> Reservation:
        return cls(mac_address(mac), _ip(ip, "reserved address"),
                   None if hostname is None else _check(hostname, _HOST_RE, "host name", "vm1"))

    def line(self) -> str:
        return ",".join(p for p in (self.mac, self.ip, self.hostname) if p)


def parse_hosts(text: str) -> list[Reservation]:
    """Read back a hosts file written by :func:`render_hosts`."""
    found = []
    for line in text.splitlines():
        parts = line.strip().split(",")
        if len(parts) >= 2 and not line.startswith("#"):
            found.append(Reservation.build(parts[0], parts[1], parts[2] if len(parts) > 2 else None))
    return found


def render_hosts(reservations: Iterable[Reservation]) -> str:
    return "".join(f"{r.line()}\n" for r in sorted(reservations, key=lambda r: r.mac))


def reservations_of(items: Sequence[Mapping[str, Any]] | None) -> list[Reservation]:
    """Reservations given as ``[{"mac": ..., "ip": ..., "hostname": ...}]``."""
    result = []
    for item in items or ():
        if not isinstance(item, Mapping) or not {"mac", "ip"} <= set(item):
            raise InvalidArgument("dnsmasq: each reservation needs 'mac' and 'ip' (and may have 'hostname')")
        result.append(Reservation.build(item["mac"], item["ip"], item.get("hostname")))
    return result


@dataclass(frozen=True)
class DhcpNetwork:
    """What one dnsmasq instance serves: a bridge, a DHCP range, a DNS domain, upstream servers."""

    name: str
    bridge: str
    range_start: str
    range_end: str
    netmask: str | None = None
    lease_time: str = "1h"
    domain: str | None = None
    servers: tuple[str, ...] = ()

    @classmethod
    def build(cls, name: Any, bridge: Any, range_start: Any, range_end: Any, netmask: Any = None,
              lease_time: Any = "1h", domain: Any = None, servers: Sequence[Any] | None = None) -> DhcpNetwork:
        return cls(
            name=network_name(name),
            bridge=_check(bridge, _NAME_RE, "bridge name", "br1"),
            range_start=_ip(range_start, "range start"),
            range_end=_ip(range_end, "range end"),
            netmask=None if netmask is None else _ip(netmask, "netmask"),
            lease_time=_check(str(lease_time), _LEASE_RE, "lease time", "1h"),
            domain=None if domain is None else _check(domain, _DOMAIN_RE, "domain", "lab.example"),
            servers=tuple(_ip(s, "upstream server") for s in servers or ()),
        )


@dataclass(frozen=True)
class Paths:
    """Files of one instance, all under its own directory."""

    dir: str

    @classmethod
    def of(cls, run_dir: str, network: str) -> Paths:
        return cls(os.path.join(run_dir, network_name(network)))

    conf = property(lambda self: os.path.join(self.dir, "dnsmasq.conf"))
    hosts = property(lambda self: os.path.join(self.dir, "hosts.dhcp"))
    leases = property(lambda self: os.path.join(self.dir, "leases"))
    pid = property(lambda self: os.path.join(self.dir, "dnsmasq.pid"))
    log = property(lambda self: os.path.join(self.dir, "dnsmasq.log"))


def render_conf(net: DhcpNetwork, paths: Paths, user: str) -> str:
    """The complete dnsmasq configuration of ``net``. Without upstream servers the instance only
    answers for its own names (``no-resolv``: the host's resolv.conf is never used)."""
    dhcp_range = ",".join(p for p in (net.range_start, net.range_end, net.netmask, net.lease_time) if p)
    lines = [
        f"# rendered by pvc (dnsmasq module) for network {net.name}; changes are overwritten",
        f"interface={net.bridge}", "bind-interfaces", "except-interface=lo",
        f"pid-file={paths.pid}", f"user={user}", f"dhcp-leasefile={paths.leases}",
        f"dhcp-hostsfile={paths.hosts}", f"log-facility={paths.log}", "log-dhcp",
        "no-hosts", "no-resolv", "no-ping", "dhcp-authoritative", f"dhcp-range={dhcp_range}",
    ]
    if net.domain:
        lines += [f"domain={net.domain}", f"local=/{net.domain}/", "expand-hosts"]
    lines += [f"server={s}" for s in net.servers]
    return "\n".join(lines) + "\n"
