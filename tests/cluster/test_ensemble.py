"""A 3-server ensemble loses its leader: the keepalive keeps its session and ephemeral, and the
primary (which steps down while SUSPENDED) is primary again once the ensemble has a new leader."""

from __future__ import annotations

import time

from pvc.cluster.client import RetryPolicy, connect
from pvc.cluster.election import PrimaryElection
from pvc.cluster.keepalive import NodeKeepalive
from pvc.cluster.migrations import init_cluster
from pvc.cluster.records import NodeResources
from pvc.cluster.store import ClusterStore
from tests.cluster.wait import wait_for
from tests.cluster.zookeeper import ZooKeeperServer

SESSION = 6.0  # >= 4-6 s: a 2 s session can expire during re-election on a loaded box


def test_leader_kill_keeps_sessions_and_primary() -> None:
    with ZooKeeperServer(servers=3) as ensemble, \
            connect(ensemble.hosts, session_timeout=SESSION, timeout=60,
                    retry=RetryPolicy(deadline=30)) as cc:
        init_cluster(cc, "/pvc")
        store = ClusterStore.open(cc, "/pvc")
        ka = NodeKeepalive(store, "hv1", lambda: NodeResources(memory_total=1024), interval=0.2)
        ka.start()
        el = PrimaryElection(store, "master-a")
        el.start()
        try:
            assert el.gained.wait(10)
            session = cc.zk.client_id
            ensemble.kill(ensemble.leader())
            killed = time.monotonic()
            assert el.lost.wait(SESSION), "primary did not step down while suspended"
            assert el.gained.wait(SESSION + 10), "primary not regained"
            regained = time.monotonic() - killed
            beats = ka.beats
            wait_for(lambda: ka.beats > beats + 2, 10, "keepalive beating again")
            assert cc.zk.client_id == session and cc.flag.losses == 0
            assert store.alive() == {"hv1"}
            primary = store.primary()
            assert primary is not None and primary.id == "master-a"
        finally:
            el.stop()
            ka.stop()
    print(f"ensemble leader SIGKILLed: primary again after {regained:.3f} s, same session")
