"""pytest fixtures for a real PostgreSQL (see tests/cluster/pg.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.pg import PostgresServer


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """DSN of a throwaway PostgreSQL server shared by the whole session."""
    with PostgresServer() as server:
        yield server.dsn
