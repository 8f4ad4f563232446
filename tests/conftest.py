"""Root conftest: registers the fixture libraries of tests/cluster/ (one per backend)."""

pytest_plugins = [
    "tests.cluster.pvc_fixtures",
]
