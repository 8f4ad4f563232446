"""Where VMs go: a pure plan from node resources and VM sizes (no ZooKeeper, no jobs).

A node is a candidate for a VM when it is alive, its daemon runs, its domain state is ``ready``,
it is not the VM's source (nor excluded, e.g. the node being flushed) and it is in the VM's
``node_limit`` (empty: any node). Among the candidates with room for the VM's memory, the VM's
selector picks one, counting the VMs already planned onto each node: memory is never
overcommitted. A VM that fits nowhere is named with the reason; the caller moves nothing then.

Room on a node is the smaller of its free memory (total − used) and its unprovisioned memory
(total − provisioned), less what the plan already put there.

Example::

    plan = make_plan(nodes, [VMDemand("vm1", "hv1", memory=1024, vcpus=2)], exclude={"hv1"})
    plan.moves        # (Move(vm='vm1', source='hv1', target='hv3', memory=1024, vcpus=2),)
    plan.raise_if_unplaced()
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from pvc.cluster.records import DaemonState, DomainState, NodeResources, Selector
from pvc.runners.errors import PlacementError


@dataclass(frozen=True)
class NodeView:
    """A node as placement sees it. ``vms`` counts the VMs placed on it (VM records)."""

    name: str
    resources: NodeResources
    alive: bool = True
    daemon_state: DaemonState = DaemonState.RUN
    domain_state: DomainState = DomainState.READY
    vms: int = 0


@dataclass(frozen=True)
class VMDemand:
    """A VM to place: its current node (None: not placed yet), size and placement policy."""

    name: str
    source: str | None
    memory: int
    vcpus: int = 1
    selector: Selector = Selector.MEM
    node_limit: tuple[str, ...] = ()


@dataclass(frozen=True)
class Move:
    vm: str
    source: str | None
    target: str
    memory: int
    vcpus: int


@dataclass(frozen=True)
class Unplaced:
    vm: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """Moves in the order the VMs were given, and the VMs that fit nowhere."""

    moves: tuple[Move, ...] = ()
    unplaced: tuple[Unplaced, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.unplaced

    def raise_if_unplaced(self) -> None:
        if self.unplaced:
            raise PlacementError("no room without overcommitting: " +
                                 "; ".join(f"{u.vm}: {u.reason}" for u in self.unplaced))

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok,
                "moves": [{"vm": m.vm, "source": m.source, "target": m.target, "memory": m.memory,
                           "vcpus": m.vcpus} for m in self.moves],
                "unplaced": [{"vm": u.vm, "reason": u.reason} for u in self.unplaced]}


@dataclass
class _Load:
    """What the plan has added to one node so far."""

    memory: int = 0
    vcpus: int = 0
    vms: int = 0


@dataclass
class _Planner:
    nodes: dict[str, NodeView]
    exclude: frozenset[str]
    added: dict[str, _Load] = field(default_factory=dict)

    def room(self, n: NodeView) -> int:
        r = n.resources
        return min(r.memory_total - r.memory_used, r.memory_total - r.memory_provisioned) - self.load(n).memory

    def load(self, n: NodeView) -> _Load:
        return self.added.setdefault(n.name, _Load())

    def why_not(self, n: NodeView, vm: VMDemand) -> str | None:
        """Why ``n`` is not a candidate for ``vm`` (None: it is)."""
        if n.name == vm.source:
            return "source"
        if n.name in self.exclude:
            return "excluded"
        if vm.node_limit and n.name not in vm.node_limit:
            return "not in node limit"
        if not n.alive:
            return "no live session"
        if n.daemon_state is not DaemonState.RUN:
            return f"daemon {n.daemon_state.value}"
        if n.domain_state is not DomainState.READY:
            return f"domain {n.domain_state.value}"
        return None

    def place(self, vm: VMDemand, target: str | None = None) -> Move | Unplaced:
        pool = [self.nodes[target]] if target in self.nodes else [] if target else list(self.nodes.values())
        if target and not pool:
            return Unplaced(vm.name, f"no node {target}")
        refused = {n.name: self.why_not(n, vm) for n in pool}
        candidates = [n for n in pool if refused[n.name] is None]
        if not candidates:
            detail = ", ".join(f"{name} {why}" for name, why in sorted(refused.items()) if why != "source")
            return Unplaced(vm.name, "no eligible node" + (f" ({detail})" if detail else ""))
        fitting = [n for n in candidates if self.room(n) >= vm.memory]
        if not fitting:
            best = max(candidates, key=self.room)
            return Unplaced(vm.name, f"needs {vm.memory} MiB, the most room is {max(self.room(best), 0)} MiB "
                                     f"on {best.name}")
        chosen = min(fitting, key=lambda n: (self._key(vm.selector)(n), n.name))
        added = self.load(chosen)
        added.memory += vm.memory
        added.vcpus += vm.vcpus
        added.vms += 1
        return Move(vm.name, vm.source, chosen.name, vm.memory, vm.vcpus)

    def _key(self, selector: Selector) -> Callable[[NodeView], float]:
        """Smaller is better, counting what is already planned onto the node."""
        keys: dict[Selector, Callable[[NodeView], float]] = {
            Selector.MEM: lambda n: -(n.resources.memory_free - self.load(n).memory),
            Selector.MEMPROV: lambda n: -(n.resources.memory_total - n.resources.memory_provisioned
                                          - self.load(n).memory),
            Selector.LOAD: lambda n: n.resources.load + 0.001 * self.load(n).vms,
            Selector.VCPUS: lambda n: n.resources.vcpus_allocated + self.load(n).vcpus,
            Selector.VMS: lambda n: n.vms + self.load(n).vms,
        }
        return keys[selector]


def make_plan(nodes: Iterable[NodeView], vms: Sequence[VMDemand], exclude: Collection[str] = (),
              targets: dict[str, str] | None = None) -> Plan:
    """A target for each VM (``targets`` fixes some: checked, not chosen). Larger VMs are placed
    first (first-fit decreasing), so a big VM is not crowded out by small ones planned before it."""
    planner = _Planner({n.name: n for n in nodes}, frozenset(exclude))
    fixed = targets or {}
    order = sorted(range(len(vms)), key=lambda i: (vms[i].name not in fixed, -vms[i].memory, i))
    placed: dict[int, Move | Unplaced] = {i: planner.place(vms[i], fixed.get(vms[i].name)) for i in order}
    results = [placed[i] for i in range(len(vms))]
    return Plan(tuple(r for r in results if isinstance(r, Move)),
                tuple(r for r in results if isinstance(r, Unplaced)))
