"""The cluster as placement sees it: node views and VM demands read from the store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pvc.cluster.records import DomainState, Selector, VMRecord
from pvc.cluster.store import ClusterStore
from pvc.runners.placement import NodeView, VMDemand
from pvc.runners.vmxml import demand


def node_views(store: ClusterStore, ready: Iterable[str] = ()) -> list[NodeView]:
    """Every node; those named in ``ready`` count as ready whatever their domain state (the node
    a ``ready`` request brings back)."""
    alive = store.alive()
    placed = Counter(v.record.node for v in store.vms())
    back = set(ready)
    return [NodeView(n.record.name, n.record.resources, n.record.name in alive, n.record.daemon_state,
                     DomainState.READY if n.record.name in back else n.record.domain_state,
                     placed[n.record.name])
            for n in store.nodes()]


def vm_demand(vm: VMRecord, default_selector: Selector) -> VMDemand:
    size = demand(vm.definition)
    return VMDemand(vm.name, vm.node, size.memory, size.vcpus, vm.selector or default_selector, vm.node_limit)
