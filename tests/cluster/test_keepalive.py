"""Node keepalive: beats with resources, clean stop, and expiry when its process is SIGKILLed."""

from __future__ import annotations

import os
import signal
import time

from pvc.cluster.keepalive import NodeKeepalive
from pvc.cluster.records import DaemonState, NodeRecord, NodeResources
from pvc.cluster.status import nodes_view
from pvc.cluster.store import ClusterStore
from tests.cluster.wait import wait_for
from tests.cluster.zookeeper import spawn_agent

SESSION = 2.0


def test_beats_then_clean_stop_is_not_dead(cluster_store: ClusterStore) -> None:
    store = cluster_store
    calls: list[int] = []

    def resources() -> NodeResources:
        calls.append(1)
        if len(calls) == 3:
            raise OSError("libvirt hiccup")  # last known resources are kept, beating goes on
        return NodeResources(memory_total=8192, memory_used=1024, vcpus_allocated=len(calls))

    ka = NodeKeepalive(store, "hv1", resources, interval=0.2)
    ka.start()
    assert store.alive() == {"hv1"}
    wait_for(lambda: ka.beats >= 5, 5, "5 beats")
    node = store.node("hv1").record
    assert node.daemon_state is DaemonState.RUN and node.resources.memory_total == 8192
    assert node.keepalive is not None and time.time() - node.keepalive < 1.0
    assert ka.errors == 1
    ka.stop()
    assert store.alive() == set()
    (view,) = nodes_view(store)
    assert view["state"] == "stopped" and view["alive"] is False


def test_fence_state_survives_a_returning_node(cluster_store: ClusterStore) -> None:
    store = cluster_store
    with store.batch() as b:  # what the fencer wrote while the node was away
        b.put_node(NodeRecord("hv1", DaemonState.FENCED), None)
    ka = NodeKeepalive(store, "hv1", NodeResources, interval=0.2)
    ka.start()
    try:
        node = store.node("hv1").record
        assert node.daemon_state is DaemonState.FENCED  # return to service is explicit
        assert node.keepalive is not None and store.alive() == {"hv1"}
    finally:
        ka.stop()
    assert store.node("hv1").record.daemon_state is DaemonState.FENCED


def test_sigkilled_node_loses_its_ephemeral_after_the_session_timeout(
        cluster_store: ClusterStore, zk_hosts: str) -> None:
    store = cluster_store
    agent = spawn_agent("keepalive", zk_hosts, store.schema.root, "hv2", str(SESSION), "0.5")
    try:
        assert store.alive() == {"hv2"}
        before = store.node("hv2").record.keepalive
        wait_for(lambda: store.node("hv2").record.keepalive != before, 3, "a second beat")
        os.kill(agent.pid, signal.SIGKILL)
        killed = time.monotonic()
        wait_for(lambda: not store.alive(), SESSION + 3, "ephemeral expiry")
        expiry = time.monotonic() - killed
    finally:
        agent.kill()
        agent.wait()
    print(f"keepalive ephemeral gone {expiry:.3f} s after SIGKILL (session {SESSION} s)")
    assert 0.5 * SESSION <= expiry <= SESSION + 3
    (view,) = nodes_view(store)
    assert view["state"] == "dead" and view["daemon_state"] == "run"
    assert view["keepalive_age"] >= expiry - 0.6
