"""Client lifecycle: a deadline on connect, a flag-only listener, the retry policy as a value."""

from __future__ import annotations

import time

import pytest

from pvc.cluster.client import ClusterClient, ConnectionFlag, RetryPolicy, connect
from pvc.cluster.errors import ClusterUnreachable
from pvc.errors import PvcError
from tests.cluster.ports import free_ports


def test_unreachable_within_the_deadline() -> None:
    (port,) = free_ports(1)
    started = time.monotonic()
    with pytest.raises(ClusterUnreachable, match="within 1 s") as err:
        connect(f"127.0.0.1:{port}", timeout=1.0)
    assert time.monotonic() - started < 3.0
    assert isinstance(err.value, (PvcError, ConnectionError))


def test_flag_and_negotiated_session(zk_client: ClusterClient) -> None:
    assert zk_client.flag.connected.is_set() and zk_client.flag.state == "CONNECTED"
    assert zk_client.session_timeout == 2.0
    assert zk_client.retry(zk_client.zk.exists, "/") is not None


def test_flag_only_records() -> None:
    flag = ConnectionFlag()
    seen = flag.subscribe()
    for state in ("CONNECTED", "SUSPENDED", "LOST"):
        flag(state)
    assert seen.is_set() and not flag.connected.is_set() and flag.losses == 1
    assert RetryPolicy(deadline=None).kazoo().deadline is None
