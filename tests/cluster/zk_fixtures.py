"""pytest fixtures for a real ZooKeeper (see tests/cluster/zookeeper.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

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
