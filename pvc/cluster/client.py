"""ZooKeeper client lifecycle: connect with a deadline, a state flag, a retry policy value.

kazoo calls connection listeners on its I/O thread; a listener that blocks or calls ZooKeeper
deadlocks it. :class:`ConnectionFlag` therefore only records the state and sets events; whoever
must act on a loss (keepalive, election) waits on those events in its own thread.

Example::

    with connect("127.0.0.1:2181", timeout=5) as cc:
        cc.zk.get("/pvc/schema/version")
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from pvc.cluster.errors import ClusterUnreachable

if TYPE_CHECKING:
    from kazoo.client import KazooClient
    from kazoo.retry import KazooRetry


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry an operation through connection loss (kazoo's
    ``KazooRetry`` as a value). ``max_tries=-1`` retries until ``deadline`` seconds passed
    (``deadline=None``: forever, as reconnecting does)."""

    max_tries: int = -1
    delay: float = 0.05
    backoff: float = 2.0
    max_delay: float = 1.0
    jitter: float = 0.4
    deadline: float | None = 10.0

    def kazoo(self) -> KazooRetry:
        from kazoo.retry import KazooRetry

        return KazooRetry(max_tries=self.max_tries, delay=self.delay, backoff=self.backoff,
                          max_jitter=self.jitter, max_delay=self.max_delay, deadline=self.deadline,
                          ignore_expire=False)


class ConnectionFlag:
    """Listens to kazoo state changes and only records them (never calls ZooKeeper).

    ``connected`` is set while the session is usable; every event from :meth:`subscribe` is set
    on each transition (its worker clears it, then reads ``state``); ``losses`` counts LOST
    (session expired: ephemerals gone) events.
    """

    def __init__(self) -> None:
        self.state = "LOST"
        self.connected = threading.Event()
        self.losses = 0
        self._subscribers: list[threading.Event] = []

    def subscribe(self) -> threading.Event:
        """A new event set on every state change, for one worker."""
        event = threading.Event()
        self._subscribers.append(event)
        return event

    def __call__(self, state: str) -> None:  # runs on kazoo's thread: flags only
        self.state = str(state)
        if self.state == "CONNECTED":
            self.connected.set()
        else:
            self.connected.clear()
            if self.state == "LOST":
                self.losses += 1
        for event in list(self._subscribers):
            event.set()


class ClusterClient:
    """A started kazoo client, its connection flag and retry policy. Close it (or use ``with``)."""

    def __init__(self, zk: KazooClient, flag: ConnectionFlag, retry: RetryPolicy) -> None:
        self.zk, self.flag, self.retry_policy = zk, flag, retry
        self._retry = retry.kazoo()

    @property
    def session_timeout(self) -> float:
        """The negotiated session timeout in seconds."""
        return float(self.zk._session_timeout) / 1000.0

    def retry(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Run ``func`` through connection loss under this client's retry policy."""
        return self._retry.copy()(func, *args, **kwargs)

    def close(self) -> None:
        """End the session (its ephemeral znodes go at once) and stop kazoo's threads."""
        try:
            self.zk.stop()
        finally:
            self.zk.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(hosts: str, *, timeout: float = 15.0, session_timeout: float = 4.0,
            retry: RetryPolicy | None = None, read_only: bool = False) -> ClusterClient:
    """Connect to ``hosts`` (``"h1:2181,h2:2181"``) within ``timeout`` seconds or raise
    :class:`ClusterUnreachable`; once connected, kazoo reconnects forever (``retry`` bounds
    each operation, not the connection). ``session_timeout`` bounds how long a dead holder keeps its
    ephemeral znodes (and its election seat): failover takes about that long."""
    from kazoo.client import KazooClient
    from kazoo.handlers.threading import KazooTimeoutError

    policy = retry or RetryPolicy()
    flag = ConnectionFlag()
    zk = KazooClient(hosts=hosts, timeout=session_timeout, read_only=read_only,
                     connection_retry=RetryPolicy(max_delay=1.0, deadline=None).kazoo(),
                     command_retry=policy.kazoo())
    zk.add_listener(flag)
    try:
        zk.start(timeout=timeout)
    except KazooTimeoutError:
        zk.stop()
        zk.close()
        raise ClusterUnreachable(f"no ZooKeeper at {hosts} answered within {timeout:g} s") from None
    flag.connected.wait(timeout)  # start() can return just before the listener has run
    return ClusterClient(zk, flag, policy)
