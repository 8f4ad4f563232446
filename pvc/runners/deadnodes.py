"""Which nodes are dead: a pure verdict from node records, live sessions and the cluster config.

A node is dead when **both** its ZooKeeper session has ended (its ephemeral ``/alive/<node>`` is
gone) **and** its last keepalive is older than ``fence_grace``: a session alone can end for a
network blip that the client recovers from, a keepalive alone can be late on a loaded node.
Never dead: a node whose daemon state is not ``run`` (``stopped`` is a clean stop; ``init`` never
beat; ``dead``/``fenced``/``fence-failed`` are the fencer's already), a node that never sent a
keepalive, and any node while cluster maintenance is on.

Keepalives are counted only from ``watching_since``: the moment this observer started to watch
without a gap (a new primary's start, or its reconnection to ZooKeeper). After an outage of the
observer's own ZooKeeper link every keepalive looks old and a node's session may have ended
meanwhile; each node first gets a whole grace to beat again before it can be declared dead.

The verdict also says when to look again (the earliest moment a node without a session crosses
the grace), so the monitor sleeps exactly that long instead of polling.

>>> from pvc.cluster.records import ClusterConfig, DaemonState, NodeRecord
>>> nodes = [NodeRecord("hv1", DaemonState.RUN, keepalive=100.0), NodeRecord("hv2", DaemonState.RUN, keepalive=99.0)]
>>> v = find_dead(nodes, alive={"hv2"}, config=ClusterConfig(fence_grace=6.0), now=107.0)
>>> [d.node for d in v.dead], v.recheck_at
(['hv1'], None)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from pvc.cluster.records import ClusterConfig, DaemonState, NodeRecord


@dataclass(frozen=True)
class Dead:
    node: str
    keepalive: float
    age: float


@dataclass(frozen=True)
class Verdict:
    dead: tuple[Dead, ...] = ()
    recheck_at: float | None = None  # when a node without a session crosses the grace


def find_dead(nodes: Iterable[NodeRecord], alive: Collection[str], config: ClusterConfig, now: float,
              watching_since: float = 0.0) -> Verdict:
    if config.maintenance:
        return Verdict()
    dead: list[Dead] = []
    due: list[float] = []
    for node in nodes:
        if node.name in alive or node.daemon_state is not DaemonState.RUN or node.keepalive is None:
            continue
        last = max(node.keepalive, watching_since)
        if now - last > config.fence_grace:
            dead.append(Dead(node.name, node.keepalive, now - node.keepalive))
        else:
            due.append(last + config.fence_grace)
    return Verdict(tuple(dead), min(due) if due else None)
