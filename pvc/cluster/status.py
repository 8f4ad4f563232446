"""Read-only views of the cluster for the CLI and the API: plain maps, ready for JSON.

A node's ``state`` is its recorded daemon state, except that a node recorded ``run`` whose
session is gone (no ``/alive/<name>``) shows as ``dead``: that is what the fencer will conclude
after ``fence_grace``, and what an operator needs to see first.

>>> node_view(NodeRecord("hv1", DaemonState.RUN, keepalive=100.0), False, 0, 103.5)["state"]
'dead'
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from pvc.cluster.codec import to_plain
from pvc.cluster.records import DaemonState, NodeRecord
from pvc.cluster.store import ClusterStore


def node_view(node: NodeRecord, alive: bool, vms: int, now: float) -> dict[str, Any]:
    state = node.daemon_state.value
    if node.daemon_state is DaemonState.RUN and not alive:
        state = DaemonState.DEAD.value
    r = node.resources
    return {
        "name": node.name,
        "state": state,
        "daemon_state": node.daemon_state.value,
        "domain_state": node.domain_state.value,
        "alive": alive,
        "keepalive_age": None if node.keepalive is None else round(max(0.0, now - node.keepalive), 3),
        "vms": vms,
        "resources": {**to_plain(r), "memory_free": r.memory_free},
    }


def nodes_view(store: ClusterStore, now: float | None = None) -> list[dict[str, Any]]:
    """Every node with state, resources, VM count (VMs placed on it) and keepalive age."""
    now = time.time() if now is None else now
    alive = store.alive()
    placed = Counter(v.record.node for v in store.vms())
    return [node_view(n.record, n.record.name in alive, placed[n.record.name], now)
            for n in store.nodes()]


def cluster_view(store: ClusterStore, now: float | None = None) -> dict[str, Any]:
    """Schema version, primary (and whether it still contends), maintenance, nodes, VM counts."""
    now = time.time() if now is None else now
    config = store.config().record
    vms = [v.record for v in store.vms()]
    primary = store.primary()
    contenders = list(store.client.zk.Lock(store.schema.path("election")).contenders())
    return {
        "root": store.schema.root,
        "schema_version": store.schema.version,
        "maintenance": config.maintenance,
        "config": to_plain(config),
        "primary": None if primary is None else {
            "id": primary.id, "since": primary.since, "live": primary.id in contenders[:1]},
        "masters": contenders,
        "nodes": nodes_view(store, now),
        "vms": {"total": len(vms),
                "by_desired_state": dict(Counter(v.desired_state.value for v in vms)),
                "unplaced": sum(1 for v in vms if v.node is None)},
    }
