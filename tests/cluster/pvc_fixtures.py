"""pytest fixtures that start real pvc masters and minions on loopback (see tests/cluster/pvc.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.pvc import PvcCluster


@pytest.fixture
def pvc_cluster(tmp_path) -> Iterator[PvcCluster]:
    """An empty cluster dir: the test starts the master and the minions it needs."""
    with PvcCluster(tmp_path / "cluster") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def three_minions(tmp_path_factory) -> Iterator[PvcCluster]:
    """A running master with minions m1, m2 (role web, os Debian) and db1 (role db), shared by
    the tests of one module (which must leave it as they found it)."""
    with PvcCluster(tmp_path_factory.mktemp("cluster"), master_options={"nodegroups": {"webs": "L@m1,m2"}}) as c:
        c.start_master()
        c.add_minion("m1", grains={"role": "web", "osfam": "Debian"})
        c.add_minion("m2", grains={"role": "web", "osfam": "Debian"})
        c.add_minion("db1", grains={"role": "db", "osfam": "RedHat"})
        c.wait_connected()
        yield c
