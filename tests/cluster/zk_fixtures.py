"""pytest fixtures for a real ZooKeeper (see tests/cluster/zookeeper.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pvc.cluster.client import ClusterClient, connect
from pvc.cluster.migrations import init_cluster
from pvc.cluster.store import ClusterStore
from tests.cluster.zookeeper import ZooKeeperServer


@pytest.fixture(scope="session")
def zk_hosts() -> Iterator[str]:
    """Connect string of a standalone ZooKeeper shared by the whole session (tickTime 200 ms)."""
    with ZooKeeperServer() as server:
        yield server.hosts


@pytest.fixture
def zk_root() -> str:
    """A fresh cluster root per test: contender and ephemeral znodes of one test never delay
    another."""
    return f"/t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def zk_client(zk_hosts: str) -> Iterator[ClusterClient]:
    """A connected cluster client (2 s session) on the session's ZooKeeper."""
    with connect(zk_hosts, session_timeout=2.0, timeout=30.0) as cc:
        yield cc


@pytest.fixture
def cluster_store(zk_client: ClusterClient, zk_root: str) -> ClusterStore:
    """A freshly initialised cluster tree (latest schema) at this test's own root."""
    init_cluster(zk_client, zk_root)
    return ClusterStore.open(zk_client, zk_root)
