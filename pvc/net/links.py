"""Plans for interfaces: bridges, VXLANs, VLANs, veth pairs, up/down, removal.

A link that exists with other settings than asked (a VXLAN with another VNI) is deleted and
created again: the kernel cannot change those in place.

Example::

    with netlink("nsA") as ipr:
        changes = link_plan(ipr, LinkWant("br0", "bridge"))   # [] when br0 is already there and up
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pvc.net import facts
from pvc.net.args import flag, ifname
from pvc.net.handle import NetworkError, NoSuchLink, link_index
from pvc.net.plan import Change


@dataclass(frozen=True)
class LinkWant:
    """A wanted link: its kind, creation arguments, the facts they must show, bridge, state."""

    name: str
    kind: str
    create: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)
    bridge: str | None = None
    up: bool = True

    def __post_init__(self) -> None:
        ifname(self.name)
        if self.bridge is not None:
            ifname(self.bridge, "bridge name")
        flag(self.up, "up")


def link_plan(ipr: Any, want: LinkWant) -> list[Change]:
    """The changes that make ``want`` true."""
    current = facts.link(ipr, want.name)
    name = want.name
    changes: list[Change] = []
    if want.bridge is not None:
        _require_bridge(ipr, want.bridge)  # before any change: a plan is never half applied
    if current is not None and current["kind"] != want.kind:
        raise NetworkError(
            f"network: {name} exists as a {current['kind'] or 'plain'} interface, not a {want.kind}; "
            "remove it first")
    if current is not None:
        diff = [f"{k} {current.get(k)} -> {v}" for k, v in want.expect.items() if current.get(k) != v]
        if diff:
            changes.append(Change(f"delete {want.kind} {name} to recreate it ({', '.join(diff)})",
                                  lambda i: i.link("del", index=link_index(i, name))))
            current = None
    if current is None:
        changes.append(Change(f"create {want.kind} {name}",
                              lambda i: i.link("add", ifname=name, kind=want.kind, **want.create)))
    if want.bridge is not None and (current is None or current["master"] != want.bridge):
        bridge = want.bridge
        changes.append(Change(f"attach {name} to bridge {bridge}",
                              lambda i: i.link("set", index=link_index(i, name), master=link_index(i, bridge))))
    if current is None or current["up"] != want.up:
        changes += state_plan(name, want.up, current)
    return changes


def _require_bridge(ipr: Any, name: str) -> None:
    found = facts.link(ipr, name)
    if found is None:
        raise NoSuchLink(f"network: no bridge named {name!r}")
    if found["kind"] != "bridge":
        raise NetworkError(f"network: {name} is a {found['kind'] or 'plain'} interface, not a bridge")


def state_plan(name: str, up: bool, current: dict[str, Any] | None = None) -> list[Change]:
    """Bring ``name`` up or down (nothing when ``current``, its facts, say it already is)."""
    if current is not None and current["up"] == up:
        return []
    state = "up" if up else "down"
    return [Change(f"set {name} {state}", lambda i: i.link("set", index=link_index(i, name), state=state))]


def absent_plan(ipr: Any, name: str, kind: str | None) -> list[Change]:
    """Delete ``name`` if it exists (refusing to delete a link of another kind than ``kind``)."""
    current = facts.link(ipr, name)
    if current is None:
        return []
    if kind is not None and current["kind"] != kind:
        raise NetworkError(f"network: {name} is a {current['kind'] or 'plain'} interface, not a {kind}; not removed")
    return [Change(f"delete {current['kind'] or 'interface'} {name}",
                   lambda i: i.link("del", index=link_index(i, name)))]
