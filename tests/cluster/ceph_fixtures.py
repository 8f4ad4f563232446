"""pytest fixtures for a real memstore Ceph cluster (see tests/cluster/ceph.py).

``ceph_cluster`` (session): the running :class:`CephCluster` (``.conf`` is its ceph.conf path).
``ceph_pool`` (per test): a fresh RBD-initialised pool name, removed afterwards (~0.3 s).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.cluster.ceph import CephCluster


@pytest.fixture(scope="session")
def ceph_cluster() -> Iterator[CephCluster]:
    """One mon + mgr + memstore OSD shared by the whole session (about 4 s to HEALTH_OK)."""
    with CephCluster() as cluster:
        yield cluster


@pytest.fixture
def ceph_pool(ceph_cluster: CephCluster) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    ceph_cluster.create_pool(name)
    yield name
    ceph_cluster.remove_pool(name)
