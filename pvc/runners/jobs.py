"""Jobs on nodes, the only way runners reach them: one call on one node, its data or a typed error.

Each thread gets its own :class:`pvc.client.Client` (a ZeroMQ socket is not thread-safe), so a
flush can run several migrations at once. ``fire`` puts an event on the local master's bus.

Example::

    jobs = NodeJobs(lambda: Client("/etc/pvc"))
    jobs.call("hv1", "virt.info", ["vm1"])          # {"name": "vm1", "state": "running", ...}
    jobs.call("hv1", "virt.start", ["vm9"])         # raises NodeJobFailed("virt.start on hv1: ...")
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from pvc.runners.errors import NodeJobFailed

JOB_TIMEOUT = 60.0


class JobClient(Protocol):
    """What runners use of :class:`pvc.client.Client`."""

    def run(self, tgt: str | Sequence[str], fun: str, args: Sequence[Any] = (),
            kwargs: Mapping[str, Any] | None = None, tgt_type: str = "glob",
            timeout: float | None = None) -> Any: ...

    def fire_event(self, tag: str, data: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


def no_jobs() -> JobClient:
    """The client factory of a context that must run no job (introspection, unit tests)."""
    raise NodeJobFailed("-", "jobs", "this context runs no jobs (no master client)")


class NodeJobs:
    def __init__(self, factory: Callable[[], JobClient]) -> None:
        self._factory = factory
        self._local = threading.local()
        self._all: list[JobClient] = []
        self._lock = threading.Lock()

    def client(self) -> JobClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._factory()
            self._local.client = client
            with self._lock:
                self._all.append(client)
        return client

    def call(self, node: str, fun: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
             timeout: float = JOB_TIMEOUT) -> Any:
        """``fun`` on ``node``; its data, or :class:`NodeJobFailed` (error or no return)."""
        result = self.client().run([node], fun, list(args), dict(kwargs or {}), timeout=timeout)
        ret = result.returns.get(node)
        if ret is None:
            raise NodeJobFailed(node, fun, f"no return ({result.missing.get(node, 'timed out')})")
        if not ret.ok:
            raise NodeJobFailed(node, fun, f"{ret.error_type}: {ret.error}" if ret.error_type else ret.error)
        return ret.data

    def each(self, nodes: Sequence[str], fun: str, args: Sequence[Any] = (),
             timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
        """``fun`` on every node in one job: ``{node: data}`` for those that answered ok."""
        if not nodes:
            return {}
        result = self.client().run(list(nodes), fun, list(args), {}, timeout=timeout)
        return {mid: ret.data for mid, ret in result.returns.items() if ret.ok}

    def fire(self, tag: str, data: Mapping[str, Any]) -> None:
        self.client().fire_event(tag, dict(data))

    def close(self) -> None:
        with self._lock:
            clients, self._all = self._all, []
        for client in clients:
            client.close()
