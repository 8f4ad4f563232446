"""Primary election: one primary, recorded; failover after SIGKILL of the primary's process."""

from __future__ import annotations

import os
import signal
import statistics
import time

from pvc.cluster.client import connect
from pvc.cluster.election import PrimaryElection
from pvc.cluster.migrations import init_cluster
from pvc.cluster.store import ClusterStore
from tests.cluster.wait import wait_for
from tests.cluster.zookeeper import spawn_agent

SESSION = 2.0


def test_one_primary_recorded_and_stop_hands_over(cluster_store: ClusterStore, zk_hosts: str) -> None:
    store = cluster_store
    events: list[str] = []
    a = PrimaryElection(store, "master-a", on_gain=lambda: events.append("a+"),
                        on_loss=lambda: events.append("a-"))
    a.start()
    assert a.gained.wait(10) and a.is_primary
    with connect(zk_hosts, session_timeout=SESSION) as cc_b:
        b = PrimaryElection(ClusterStore.open(cc_b, store.schema.root), "master-b")
        b.start()
        wait_for(lambda: a.contenders() == ["master-a", "master-b"], 5, "b in line")
        assert not b.is_primary
        primary = store.primary()
        assert primary is not None and primary.id == "master-a"
        started = time.monotonic()
        a.stop()  # clean stop: its contender znode goes at once
        assert b.gained.wait(5)
        handover = time.monotonic() - started
        assert not a.is_primary and events == ["a+", "a-"]
        primary = store.primary()
        assert primary is not None and primary.id == "master-b"
        b.stop()
    print(f"clean handover {handover * 1000:.0f} ms")
    assert handover < 1.0


def test_sigkilled_primary_is_replaced_within_the_session_timeout(zk_hosts: str, zk_root: str) -> None:
    times = []
    with connect(zk_hosts, session_timeout=SESSION) as cc:
        init_cluster(cc, zk_root)
        store = ClusterStore.open(cc, zk_root)
        for run in range(3):
            agent = spawn_agent("contend", zk_hosts, zk_root, f"dead-{run}", str(SESSION))
            assert agent.stdout is not None
            assert agent.stdout.readline().strip() == "primary"
            b = PrimaryElection(store, f"survivor-{run}")
            b.start()
            try:
                wait_for(lambda b=b: len(b.contenders()) == 2, 5, "survivor in line")
                os.kill(agent.pid, signal.SIGKILL)
                killed = time.monotonic()
                assert b.gained.wait(SESSION + 5), "no new primary"
                times.append(time.monotonic() - killed)
                primary = store.primary()
                assert primary is not None and primary.id == f"survivor-{run}"
            finally:
                agent.kill()
                agent.wait()
                b.stop()
    print(f"new primary after SIGKILL (session {SESSION} s): "
          f"{', '.join(f'{t:.3f}' for t in times)} s, median {statistics.median(times):.3f} s")
    assert all(0.3 * SESSION <= t <= SESSION + 3 for t in times)
    assert statistics.median(times) < 5.0
