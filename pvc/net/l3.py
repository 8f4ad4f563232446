"""Plans for addresses and routes; arguments are validated into ``ipaddress`` objects first.

Example::

    with netlink("nsA") as ipr:
        address_plan(ipr, "br0", "10.50.0.1/24", present=True)   # [] when already assigned
"""

from __future__ import annotations

import ipaddress
from typing import Any

from pvc.errors import InvalidArgument
from pvc.net import facts
from pvc.net.args import MAX_TABLE, number
from pvc.net.handle import link_index
from pvc.net.plan import Change

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_interface(address: str) -> IPInterface:
    """``"10.0.0.1/24"`` -> an interface address; a clear error for anything else."""
    try:
        iface = ipaddress.ip_interface(address)
    except ValueError:
        raise InvalidArgument(f"network: {address!r} is not an address with prefix like 10.0.0.1/24") from None
    if "/" not in str(address):
        raise InvalidArgument(f"network: address {address!r} needs a prefix length, like {address}/24")
    return iface


def parse_network(dst: str, gateway: str | None) -> IPNetwork:
    """A route destination: a prefix (host bits ignored) or ``default``."""
    if dst == "default":
        v6 = gateway is not None and ":" in gateway
        return ipaddress.ip_network("::/0" if v6 else "0.0.0.0/0")
    try:
        return ipaddress.ip_network(dst, strict=False)
    except ValueError:
        raise InvalidArgument(f"network: route destination {dst!r} is not a prefix like 10.1.0.0/16 or 'default'") from None


def address_plan(ipr: Any, interface: str, address: str, present: bool) -> list[Change]:
    """Add or remove ``address`` on ``interface``."""
    iface = parse_interface(address)
    text = f"{iface.ip}/{iface.network.prefixlen}"
    link_index(ipr, interface)  # fail early, naming the interface
    have = any(a["interface"] == interface and a["address"] == text for a in facts.addresses(ipr))
    if have == present:
        return []
    verb, prep = ("add", "to") if present else ("del", "from")
    return [Change(f"{'add' if present else 'remove'} address {text} {prep} {interface}",
                   lambda i: i.addr(verb, index=link_index(i, interface), address=str(iface.ip),
                                    prefixlen=iface.network.prefixlen))]


def _version(address: str) -> int | None:
    try:
        return ipaddress.ip_address(address).version
    except ValueError:
        return None


def _route_key(net: IPNetwork) -> str:
    return "default" if net.prefixlen == 0 else str(net)


def route_plan(ipr: Any, dst: str, gateway: str | None, interface: str | None, table: int,
               present: bool) -> list[Change]:
    """Add/replace or remove the route to ``dst`` in ``table``."""
    if present and gateway is None and interface is None:
        raise InvalidArgument("network: a route needs a gateway, an interface, or both")
    net = parse_network(dst, gateway)
    number(table, "table", 1, MAX_TABLE)
    if gateway is not None and _version(gateway) != net.version:
        raise InvalidArgument(f"network: gateway {gateway!r} is not an IPv{net.version} address like the destination")
    key = _route_key(net)
    family = "inet6" if net.version == 6 else "inet"
    current = next((r for r in facts.routes(ipr, table)
                    if r["dst"] == key and r["family"] == family), None)
    if not present:
        if current is None:
            return []
        return [Change(f"remove route {key} (table {table})",
                       lambda i: i.route("del", dst=str(net), table=table))]
    wanted = {"gateway": gateway} if gateway is not None else {}
    if interface is not None:
        wanted["interface"] = interface
    if current is not None and all(current.get(k) == v for k, v in wanted.items()):
        return []
    via = " ".join(f"{'via' if k == 'gateway' else 'dev'} {v}" for k, v in wanted.items())

    def apply(i: Any) -> None:
        args: dict[str, Any] = {"dst": str(net), "table": table}
        if gateway is not None:
            args["gateway"] = gateway
        if interface is not None:
            args["oif"] = link_index(i, interface)
        i.route("replace", **args)

    return [Change(f"{'change' if current else 'add'} route {key} {via} (table {table})", apply)]
