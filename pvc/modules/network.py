"""The ``network`` module: idempotent interface, address and route changes through netlink.

Every function takes an optional ``netns`` (a name under /run/netns) and never creates one.
``*_present``/``*_absent`` compute a plan from the kernel's current state, then apply it; a
second identical call finds nothing to do and says so, and ``test=True`` only reports the plan.

Example: ``pvc call network.vxlan_present vx100 vni=100 local=10.0.12.1 bridge=br100``
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec
from pvc.net import facts
from pvc.net.args import MAX_VLAN, MAX_VNI, ifname, ipv4, netns_name, number
from pvc.net.handle import (
    VLAN_MISSING,
    KernelFeatureMissing,
    NetworkError,
    NoSuchLink,
    link_index,
    netlink,
)
from pvc.net.l3 import address_plan, route_plan
from pvc.net.links import LinkWant, absent_plan, link_plan, state_plan
from pvc.net.plan import Change, run_plan

MAIN_TABLE = facts.MAIN_TABLE


def _run(ctx: ExecContext, netns: str | None, subject: str, planner: Callable[[Any], list[Change]]) -> dict[str, Any]:
    with netlink(netns) as ipr:
        return run_plan(ipr, planner(ipr), ctx.test, subject)


def bridge_present(ctx: ExecContext, name: str, netns: str | None = None, up: bool = True) -> dict[str, Any]:
    """Make sure bridge ``name`` exists (and is up unless ``up=False``).

    Example: ``pvc call network.bridge_present br100 netns=node1``
    """
    return _run(ctx, netns, f"bridge {name}", lambda ipr: link_plan(ipr, LinkWant(name, "bridge", up=up)))


def bridge_absent(ctx: ExecContext, name: str, netns: str | None = None) -> dict[str, Any]:
    """Remove bridge ``name`` if it exists (its ports stay, detached).

    Example: ``pvc call network.bridge_absent br100``
    """
    return _run(ctx, netns, f"bridge {name}", lambda ipr: absent_plan(ipr, name, "bridge"))


def vxlan_present(ctx: ExecContext, name: str, vni: int, local: str, port: int = 4789,
                  learning: bool = False, bridge: str | None = None, netns: str | None = None,
                  up: bool = True) -> dict[str, Any]:
    """Make sure VXLAN ``name`` exists with this VNI, local VTEP address and UDP port
    (MAC learning off by default: EVPN fills the forwarding table), optionally in ``bridge``.

    Example: ``pvc call network.vxlan_present vx100 vni=100 local=10.0.12.1 bridge=br100``
    """
    vni, port = number(vni, "vni", 1, MAX_VNI), number(port, "port", 1, 65535)
    local = ipv4(local, "local")
    want = LinkWant(
        name, "vxlan",
        create={"vxlan_id": vni, "vxlan_local": local, "vxlan_port": port, "vxlan_learning": int(learning)},
        expect={"vni": vni, "local": local, "port": port, "learning": learning},
        bridge=bridge, up=up)

    def planner(ipr: Any) -> list[Change]:
        for other in facts.links(ipr):  # the kernel's EEXIST would name the new link, not the holder
            if other["name"] != name and other["kind"] == "vxlan" and (other["vni"], other["port"]) == (vni, port):
                raise NetworkError(f"network: VNI {vni} (port {port}) is already used by {other['name']}")
        return link_plan(ipr, want)

    return _run(ctx, netns, f"vxlan {name}", planner)


def vxlan_absent(ctx: ExecContext, name: str, netns: str | None = None) -> dict[str, Any]:
    """Remove VXLAN ``name`` if it exists.

    Example: ``pvc call network.vxlan_absent vx100``
    """
    return _run(ctx, netns, f"vxlan {name}", lambda ipr: absent_plan(ipr, name, "vxlan"))


def vlan_present(ctx: ExecContext, name: str, parent: str, vlan_id: int, bridge: str | None = None,
                 netns: str | None = None, up: bool = True) -> dict[str, Any]:
    """Make sure 802.1Q sub-interface ``name`` (VLAN ``vlan_id`` on ``parent``) exists.
    Needs the kernel's 8021q support; without it the error says so.

    Example: ``pvc call network.vlan_present eth0.10 parent=eth0 vlan_id=10``
    """
    vlan_id, parent = number(vlan_id, "vlan_id", 1, MAX_VLAN), ifname(parent, "parent")

    def planner(ipr: Any) -> list[Change]:
        create = {"vlan_id": vlan_id, "link": link_index(ipr, parent)}
        return link_plan(ipr, LinkWant(name, "vlan", create=create,
                                       expect={"vlan_id": vlan_id, "parent": parent}, bridge=bridge, up=up))

    try:
        return _run(ctx, netns, f"vlan {name}", planner)
    except KernelFeatureMissing:
        raise KernelFeatureMissing(VLAN_MISSING) from None


def vlan_absent(ctx: ExecContext, name: str, netns: str | None = None) -> dict[str, Any]:
    """Remove VLAN sub-interface ``name`` if it exists.

    Example: ``pvc call network.vlan_absent eth0.10``
    """
    return _run(ctx, netns, f"vlan {name}", lambda ipr: absent_plan(ipr, name, "vlan"))


def veth_present(ctx: ExecContext, name: str, peer: str, peer_netns: str | None = None,
                 bridge: str | None = None, netns: str | None = None, up: bool = True) -> dict[str, Any]:
    """Make sure veth pair ``name``/``peer`` exists; the peer end is created in ``peer_netns``
    when given (bring it up there with ``network.link_up``). ``name`` may join ``bridge``.

    Example: ``pvc call network.veth_present vm1-a peer=eth0 peer_netns=vm1 bridge=br0``
    """
    peer_spec: dict[str, Any] = {"ifname": ifname(peer, "peer")}
    if peer_netns is not None:
        peer_spec["net_ns_fd"] = netns_name(peer_netns)
    want = LinkWant(name, "veth", create={"peer": peer_spec}, bridge=bridge, up=up)
    return _run(ctx, netns, f"veth {name}", lambda ipr: link_plan(ipr, want))


def address_present(ctx: ExecContext, interface: str, address: str, netns: str | None = None) -> dict[str, Any]:
    """Make sure ``interface`` has ``address`` (with prefix, e.g. ``10.0.0.1/24``).

    Example: ``pvc call network.address_present br0 10.50.0.1/24``
    """
    return _run(ctx, netns, f"address {address} on {interface}",
                lambda ipr: address_plan(ipr, interface, address, present=True))


def address_absent(ctx: ExecContext, interface: str, address: str, netns: str | None = None) -> dict[str, Any]:
    """Make sure ``interface`` does not have ``address``.

    Example: ``pvc call network.address_absent br0 10.50.0.1/24``
    """
    return _run(ctx, netns, f"address {address} on {interface}",
                lambda ipr: address_plan(ipr, interface, address, present=False))


def route_present(ctx: ExecContext, dst: str, gateway: str | None = None, interface: str | None = None,
                  table: int = MAIN_TABLE, netns: str | None = None) -> dict[str, Any]:
    """Make sure the route to ``dst`` (a prefix or ``default``) goes via ``gateway`` and/or
    ``interface`` in ``table``; a route with another next hop is replaced.

    Example: ``pvc call network.route_present 10.200.0.0/16 gateway=10.99.0.2``
    """
    return _run(ctx, netns, f"route {dst}",
                lambda ipr: route_plan(ipr, dst, gateway, interface, table, present=True))


def route_absent(ctx: ExecContext, dst: str, table: int = MAIN_TABLE, netns: str | None = None) -> dict[str, Any]:
    """Remove the route to ``dst`` from ``table`` if there is one.

    Example: ``pvc call network.route_absent 10.200.0.0/16``
    """
    return _run(ctx, netns, f"route {dst}",
                lambda ipr: route_plan(ipr, dst, None, None, table, present=False))


def link_up(ctx: ExecContext, name: str, netns: str | None = None) -> dict[str, Any]:
    """Set interface ``name`` administratively up.

    Example: ``pvc call network.link_up eth0 netns=vm1``
    """
    return _run(ctx, netns, f"{name} up", lambda ipr: state_plan(name, True, _existing(ipr, name)))


def link_down(ctx: ExecContext, name: str, netns: str | None = None) -> dict[str, Any]:
    """Set interface ``name`` administratively down.

    Example: ``pvc call network.link_down eth0``
    """
    return _run(ctx, netns, f"{name} down", lambda ipr: state_plan(name, False, _existing(ipr, name)))


def _existing(ipr: Any, name: str) -> dict[str, Any]:
    current = facts.link(ipr, name)
    if current is None:
        raise NoSuchLink(f"network: no interface named {name!r}")
    return current


def links(ctx: ExecContext, netns: str | None = None) -> list[dict[str, Any]]:
    """Every interface: name, index, kind, MAC, MTU, up, operstate, master (+ VXLAN/VLAN details).

    Example: ``pvc call network.links netns=node1``
    """
    with netlink(netns) as ipr:
        return facts.links(ipr)


def addresses(ctx: ExecContext, interface: str | None = None, netns: str | None = None) -> list[dict[str, Any]]:
    """IPv4/IPv6 addresses (of one ``interface`` when given) as ``{"interface", "address", "family"}``.

    Example: ``pvc call network.addresses br0``
    """
    with netlink(netns) as ipr:
        return [a for a in facts.addresses(ipr) if interface is None or a["interface"] == interface]


def routes(ctx: ExecContext, table: int | None = MAIN_TABLE, netns: str | None = None) -> list[dict[str, Any]]:
    """Routes of ``table`` (main by default; ``table=None`` for all) as dicts.

    Example: ``pvc call network.routes netns=node1``
    """
    with netlink(netns) as ipr:
        return facts.routes(ipr, table)


SPEC = ModuleSpec(
    "network",
    functions=(bridge_present, bridge_absent, vxlan_present, vxlan_absent, vlan_present, vlan_absent,
               veth_present, address_present, address_absent, route_present, route_absent,
               link_up, link_down, links, addresses, routes),
    requires=("pyroute2",),
)
