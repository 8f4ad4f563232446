"""Which minion holds each VM, so that a minion speaks only about its own VMs.

A minion lists the VMs its libvirt holds in every heartbeat. The first live minion to list a
VM holds it until it stops listing it (or its session ends); then the claim passes to another
minion that lists it (the destination of a migration). While another minion holds a VM, a
second minion's listing of it grants nothing — so a hostile minion cannot speak for a VM that
runs elsewhere just by naming it. (With the cluster layer, ZooKeeper's VM -> node map becomes
the authority; this keeps the master honest without it.)

Example::

    claims = VmClaims()
    claims.update("hv1", frozenset({"web1"}))      # hv1 holds web1
    claims.update("hv2", frozenset({"web1"}))      # still hv1's
    claims.update("hv1", frozenset())              # released: now hv2's  -> returns {"web1"}
"""

from __future__ import annotations

MAX_LISTED = 4096


class VmClaims:
    def __init__(self) -> None:
        self.owner: dict[str, str] = {}
        self.listed: dict[str, frozenset[str]] = {}

    def holds(self, mid: str, name: str) -> bool:
        return self.owner.get(name) == mid

    def update(self, mid: str, vms: frozenset[str]) -> set[str]:
        """Record what ``mid`` lists now; returns the names whose holder changed."""
        before = self.listed.get(mid, frozenset())
        self.listed[mid] = vms
        changed = set()
        for name in vms - before:
            if name not in self.owner:
                self.owner[name] = mid
                changed.add(name)
        for name in before - vms:
            if self.owner.get(name) == mid:
                changed |= self._pass_on(name, mid)
        return changed

    def drop(self, mid: str) -> set[str]:
        """``mid``'s session ended: its claims pass to other minions that list the VMs."""
        listed = self.listed.pop(mid, frozenset())
        changed: set[str] = set()
        for name in listed:
            if self.owner.get(name) == mid:
                changed |= self._pass_on(name, mid)
        return changed

    def _pass_on(self, name: str, old: str) -> set[str]:
        heir = next((m for m, vms in self.listed.items() if m != old and name in vms), None)
        if heir is None:
            del self.owner[name]
        else:
            self.owner[name] = heir
        return {name}
