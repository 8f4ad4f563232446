"""pvc's own states over its backend modules: ``network.*``, ``frr.config``, ``dnsmasq.network``,
``virt.defined``/``running``, ``ceph.pool_present``, ``rbd.volume_present``.

They are thin: each calls the execution function that already plans from facts and honours
test mode (``network.bridge_present``, ``frr.apply``, ``dnsmasq.start``...), and turns its
``{"changed", "test", "changes", "comment"}`` answer into a state result (:func:`from_module`).
The arguments are the module function's own, so an unknown one fails that state with the
module's message.

Example (SLS)::

    br100:
      network.bridge:
        - netns: node1
    10.100.0.1/24:
      network.address:
        - interface: br100
        - require:
          - network: br100
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pvc.states.context import StateContext
from pvc.states.registry import StateModule
from pvc.states.result import StateResult


def from_module(ctx: StateContext, fun: str, **kwargs: Any) -> StateResult:
    """Call a planning execution function and report its answer as a state result."""
    ret = ctx.call(fun, **kwargs)
    comment = str(ret.get("comment", "")) if isinstance(ret, Mapping) else ""
    if not isinstance(ret, Mapping):
        return StateResult(True, {fun: ret}, f"{fun} done")
    planned = ret.get("changes") or ([comment] if ret.get("test") else [])
    if ret.get("test"):
        return StateResult(None if planned else True, {"planned": planned} if planned else {}, comment)
    if ret.get("changed"):
        return StateResult(True, {"changes": ret.get("changes", comment)}, comment)
    return StateResult(True, {}, comment)


def bridge(ctx: StateContext, name: str, **kwargs: Any) -> StateResult:
    """Bridge ``name`` exists (and is up)."""
    return from_module(ctx, "network.bridge_present", name=name, **kwargs)


def vxlan(ctx: StateContext, name: str, **kwargs: Any) -> StateResult:
    """VXLAN ``name`` exists with this VNI and local address (in ``bridge``)."""
    return from_module(ctx, "network.vxlan_present", name=name, **kwargs)


def vlan(ctx: StateContext, name: str, **kwargs: Any) -> StateResult:
    """VLAN interface ``name`` exists on ``parent`` with ``vlan_id``."""
    return from_module(ctx, "network.vlan_present", name=name, **kwargs)


def address(ctx: StateContext, name: str, interface: str, **kwargs: Any) -> StateResult:
    """Address ``name`` (CIDR) is on ``interface``."""
    return from_module(ctx, "network.address_present", interface=interface, address=name, **kwargs)


def route(ctx: StateContext, name: str, **kwargs: Any) -> StateResult:
    """A route to ``name`` (a destination prefix) exists (via ``gateway`` and/or ``interface``)."""
    return from_module(ctx, "network.route_present", dst=name, **kwargs)


def config(ctx: StateContext, name: str, **kwargs: Any) -> StateResult:
    """FRR runs the config rendered from ``asn``/``router_id``/``peers``... (render, validate, reload)."""
    return from_module(ctx, "frr.apply", **kwargs)


def network(ctx: StateContext, name: str, **kwargs: Any) -> StateResult:
    """dnsmasq serves DHCP/DNS for network ``name`` with this config."""
    return from_module(ctx, "dnsmasq.start", network=name, **kwargs)


def defined(ctx: StateContext, name: str, xml: str | None = None, **spec: Any) -> StateResult:
    """VM ``name`` is defined from ``xml`` or a spec (vcpus, memory, disks, nics...)."""
    args = {"xml": xml} if xml is not None else {"name": name, **spec}
    if ctx.test:
        exists = any(vm["name"] == name for vm in ctx.call("virt.list"))
        ctx.call("virt.define", **args)  # validates the definition without touching libvirt
        return StateResult(None, {name: "redefine if different" if exists else "define"},
                           f"VM {name} would be {'redefined if its definition differs' if exists else 'defined'}")
    ret = ctx.call("virt.define", **args)
    if ret.get("changed"):
        note = " (running: a restart applies it)" if ret.get("pending") else ""
        return StateResult(True, {name: "defined"}, f"VM {name} defined{note}")
    return StateResult(True, {}, f"VM {name} is defined as wanted")


def running(ctx: StateContext, name: str) -> StateResult:
    """VM ``name`` (already defined) is running."""
    state = next((vm["state"] for vm in ctx.call("virt.list") if vm["name"] == name), None)
    if state is None and ctx.test:  # an earlier virt.defined may define it in the real run
        return StateResult(None, {name: "started"}, f"VM {name} is not defined yet; it would be started once it is")
    if state is None:
        return StateResult(False, {}, f"VM {name} is not defined")
    if state == "running":
        return StateResult(True, {}, f"VM {name} is running")
    return ctx.plan({name: "started"}, lambda: ctx.call("virt.start", name), comment=f"VM {name} started",
                    test_comment=f"VM {name} would be started")


def pool_present(ctx: StateContext, name: str, pg_num: int = 8, size: int | None = None,
                 application: str = "rbd") -> StateResult:
    """Ceph pool ``name`` exists (created with ``pg_num``/``size``/``application``)."""
    if any(pool["name"] == name for pool in ctx.call("ceph.pool_list")):
        return StateResult(True, {}, f"Pool {name} exists")
    return ctx.plan({name: "created"}, lambda: ctx.call("ceph.pool_create", name, pg_num=pg_num, size=size,
                                                        application=application),
                    comment=f"Pool {name} created", test_comment=f"Pool {name} would be created")


def volume_present(ctx: StateContext, name: str, pool: str, size: Any) -> StateResult:
    """RBD image ``pool/name`` exists (created with ``size``; an existing one is not resized)."""
    if ctx.test and not any(p["name"] == pool for p in ctx.call("ceph.pool_list")):
        return StateResult(None, {name: "created"}, f"Volume {pool}/{name} would be created once pool {pool} exists")
    if any(vol["name"] == name for vol in ctx.call("ceph.volume_list", pool)):
        return StateResult(True, {}, f"Volume {pool}/{name} exists")
    return ctx.plan({name: "created"}, lambda: ctx.call("ceph.volume_create", pool, name, size),
                    comment=f"Volume {pool}/{name} created", test_comment=f"Volume {pool}/{name} would be created")


MODULES = (
    StateModule("network", functions=(bridge, vxlan, vlan, address, route)),
    StateModule("frr", functions=(config,)),
    StateModule("dnsmasq", functions=(network,)),
    StateModule("virt", functions=(defined, running)),
    StateModule("ceph", functions=(pool_present,)),
    StateModule("rbd", functions=(volume_present,)),
)
