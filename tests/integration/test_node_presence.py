"""A hypervisor minion (``cluster:`` in its config) keeps its node alive in ZooKeeper.

Real ZooKeeper, real master and minion processes: the node appears with its resources, a
clean stop records "stopped" (never a fence candidate), and a SIGKILL lets the session
expire so the node is no longer alive.
"""

from __future__ import annotations

from pvc.cluster.records import DaemonState
from pvc.cluster.store import ClusterStore
from tests.cluster.pvc import PvcCluster
from tests.cluster.wait import wait_for


def test_minion_keepalive_clean_stop_and_crash(pvc_cluster: PvcCluster, cluster_store: ClusterStore,
                                               zk_hosts: str, zk_root: str):
    c = pvc_cluster
    c.start_master()
    section = {"zookeeper": zk_hosts, "root": zk_root, "session_timeout": 2.0}
    c.add_minion("hv1", cluster=section)
    c.wait_connected(["hv1"])
    wait_for(lambda: "hv1" in cluster_store.alive(), 15, "hv1 alive in ZooKeeper")
    node = cluster_store.node("hv1").record
    assert node.daemon_state == DaemonState.RUN
    assert node.resources.memory_total > 0 and node.resources.memory_used > 0
    assert node.keepalive > 0

    c.stop_minion("hv1")  # clean: says so
    wait_for(lambda: "hv1" not in cluster_store.alive(), 10, "hv1 gone after a clean stop")
    assert cluster_store.node("hv1").record.daemon_state == DaemonState.STOPPED

    c.start_minion("hv1")
    wait_for(lambda: "hv1" in cluster_store.alive(), 15, "hv1 back")
    c.kill_minion("hv1")  # a crash: the session expires, the record still says "run"
    wait_for(lambda: "hv1" not in cluster_store.alive(), 10, "hv1's session expired")
    assert cluster_store.node("hv1").record.daemon_state == DaemonState.RUN
