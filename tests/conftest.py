"""Root conftest: registers the fixture libraries of tests/cluster/ (one file per backend)."""

pytest_plugins = [
    "tests.cluster.pvc_fixtures",
    "tests.cluster.libvirt_fixtures",
    "tests.cluster.ceph_fixtures",
    "tests.cluster.net_fixtures",
    "tests.cluster.pg_fixtures",
    "tests.cluster.zk_fixtures",
]
