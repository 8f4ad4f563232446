"""Facts: links, addresses and routes read from netlink as plain, JSON-able dicts.

Each ``*_fact`` function turns one netlink message into a dict, so plans compare dicts and the
``network.links``/``addresses``/``routes`` functions return the same shapes.

Example::

    with netlink("nsA") as ipr:
        link(ipr, "vx100")   # {"name": "vx100", "kind": "vxlan", "vni": 100, "master": "br0", ...}
"""

from __future__ import annotations

import socket
from typing import Any

_FAMILIES = {socket.AF_INET: "inet", socket.AF_INET6: "inet6"}
MAIN_TABLE = 254


def link_fact(msg: Any, names: dict[int, str]) -> dict[str, Any]:
    """One RTM_NEWLINK message as a dict; ``names`` maps indexes to names (for master/link)."""
    info = msg.get("IFLA_LINKINFO")
    kind = info.get("IFLA_INFO_KIND") if info else None
    data = (info.get("IFLA_INFO_DATA") if info else None) or None
    fact: dict[str, Any] = {
        "name": msg.get("IFLA_IFNAME"),
        "index": msg["index"],
        "kind": kind,
        "mac": msg.get("IFLA_ADDRESS"),
        "mtu": msg.get("IFLA_MTU"),
        "up": bool(msg["flags"] & 1),
        "operstate": msg.get("IFLA_OPERSTATE"),
        "master": names.get(msg.get("IFLA_MASTER") or 0),
    }
    if kind == "vxlan" and data is not None:
        fact.update(vni=data.get("IFLA_VXLAN_ID"), local=data.get("IFLA_VXLAN_LOCAL"),
                    port=data.get("IFLA_VXLAN_PORT"), learning=bool(data.get("IFLA_VXLAN_LEARNING")))
    elif kind == "vlan" and data is not None:
        fact.update(vlan_id=data.get("IFLA_VLAN_ID"), parent=names.get(msg.get("IFLA_LINK") or 0))
    return fact


def links(ipr: Any) -> list[dict[str, Any]]:
    """Every interface of the namespace, by index order."""
    msgs = list(ipr.link("dump"))
    names = {m["index"]: m.get("IFLA_IFNAME") for m in msgs}
    return [link_fact(m, names) for m in sorted(msgs, key=lambda m: m["index"])]


def link(ipr: Any, name: str) -> dict[str, Any] | None:
    """The interface called ``name``, or None when there is none."""
    return next((fact for fact in links(ipr) if fact["name"] == name), None)


def addresses(ipr: Any) -> list[dict[str, Any]]:
    """Every IPv4/IPv6 address as ``{"interface", "address": "10.0.0.1/24", "family"}``."""
    names = {m["index"]: m.get("IFLA_IFNAME") for m in ipr.link("dump")}
    found = []
    for msg in ipr.addr("dump"):
        addr = msg.get("IFA_LOCAL") or msg.get("IFA_ADDRESS")
        found.append({
            "interface": names.get(msg["index"]),
            "address": f"{addr}/{msg['prefixlen']}",
            "family": _FAMILIES.get(msg["family"], str(msg["family"])),
        })
    return found


def route_fact(msg: Any, names: dict[int, str]) -> dict[str, Any]:
    """One RTM_NEWROUTE message as ``{"dst": "10.1.0.0/16", "gateway", "interface", "table"}``."""
    family = msg["family"]
    dst = msg.get("RTA_DST")
    if dst is None:
        dst = "default"
    else:
        dst = f"{dst}/{msg['dst_len']}"
    return {
        "dst": dst,
        "gateway": msg.get("RTA_GATEWAY"),
        "interface": names.get(msg.get("RTA_OIF") or 0),
        "table": msg.get("RTA_TABLE") or msg["table"],
        "family": _FAMILIES.get(family, str(family)),
        "protocol": msg["proto"],
    }


def routes(ipr: Any, table: int | None = MAIN_TABLE) -> list[dict[str, Any]]:
    """Routes of ``table`` (the main table by default; None: every table), IPv4 and IPv6."""
    names = {m["index"]: m.get("IFLA_IFNAME") for m in ipr.link("dump")}
    found = []
    for family in _FAMILIES:
        for msg in ipr.route("dump", family=family):
            fact = route_fact(msg, names)
            if table is None or fact["table"] == table:
                found.append(fact)
    return found
