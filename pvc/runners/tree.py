"""The runners' own znodes: observed VM state and node requests (flush/ready), as typed records.

They live under ``<root>/runners/`` beside the schema's tree. Paths are built here from the
store's root and validated ids only. (To be folded into :mod:`pvc.cluster.schema` as keys
``vm_status`` and ``node_request`` at the next schema version; until then ``pvc cluster init``
does not create them and :func:`ensure` does, idempotently.)

Example::

    tree = RunnerTree(store)
    tree.put_status(VMStatus("vm1", "running", "hv2", time.time(), "migrated"))
    tree.request("hv1")            # Versioned[NodeRequest] or None
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from pvc.cluster.codec import decode, encode
from pvc.cluster.errors import RecordNotFound, TransactionConflict
from pvc.cluster.store import Batch, ClusterStore, Versioned
from pvc.ids import validate_minion_id


class RequestKind(str, enum.Enum):
    FLUSH = "flush"
    READY = "ready"


class RequestState(str, enum.Enum):
    PENDING = "pending"    # written by the CLI, not yet seen by the primary
    RUNNING = "running"    # planned; steps are being carried out (resumed after a failover)
    DONE = "done"
    FAILED = "failed"      # refused by the plan (nothing moved) or a step failed


class StepState(str, enum.Enum):
    PLANNED = "planned"
    MIGRATING = "migrating"  # a migration job may be under way: a resuming primary looks first
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Step:
    """One VM of a request: where from, where to, how it went."""

    vm: str
    source: str
    target: str
    state: StepState = StepState.PLANNED
    attempts: int = 0
    method: str = ""
    duration: float = 0.0
    downtime_ms: int | None = None
    error: str = ""


@dataclass(frozen=True)
class NodeRequest:
    """A flush or ready of ``node`` at ``<root>/runners/requests/<node>`` (one at a time per node)."""

    id: str
    node: str
    kind: RequestKind
    parallel: int = 2
    state: RequestState = RequestState.PENDING
    created: float = 0.0
    owner: str = ""              # the coordinator carrying it out
    steps: tuple[Step, ...] = ()
    error: str = ""
    started: float | None = None
    finished: float | None = None

    def __post_init__(self) -> None:
        validate_minion_id(self.node)

    @property
    def finished_ok(self) -> bool:
        return self.state is RequestState.DONE

    @property
    def open(self) -> bool:
        return self.state in (RequestState.PENDING, RequestState.RUNNING)


@dataclass(frozen=True)
class VMStatus:
    """What libvirt last said about a VM: ``state`` (running, stopped, crashed, ...) on ``node``."""

    name: str
    state: str
    node: str | None
    since: float
    event: str = ""


class RunnerTree:
    def __init__(self, store: ClusterStore) -> None:
        self.store = store
        base = "" if store.schema.root == "/" else store.schema.root
        self.base = f"{base}/runners"
        self.requests_path = f"{self.base}/requests"
        self.status_path = f"{self.base}/vmstatus"

    def ensure(self) -> None:
        zk = self.store.client.zk
        for path in (self.requests_path, self.status_path):
            self.store.client.retry(zk.ensure_path, path)

    def request_path(self, node: str) -> str:
        return f"{self.requests_path}/{validate_minion_id(node)}"

    def status_path_of(self, vm: str) -> str:
        return f"{self.status_path}/{validate_minion_id(vm)}"

    def _read(self, cls: type, path: str) -> Versioned | None:  # type: ignore[type-arg]
        from kazoo.exceptions import NoNodeError

        try:
            data, stat = self.store.client.retry(self.store.client.zk.get, path)
        except NoNodeError:
            return None
        return Versioned(decode(cls, data, path), stat.version)

    def request(self, node: str) -> Versioned[NodeRequest] | None:
        return self._read(NodeRequest, self.request_path(node))

    def requests(self) -> list[Versioned[NodeRequest]]:
        from kazoo.exceptions import NoNodeError

        try:
            names = sorted(self.store.client.retry(self.store.client.zk.get_children, self.requests_path))
        except NoNodeError:
            return []
        found = (self.request(n) for n in names)
        return [r for r in found if r is not None]

    def put_request(self, batch: Batch, req: NodeRequest, version: int | None) -> None:
        batch.set(self.request_path(req.node), encode(req), version)

    def status(self, vm: str) -> VMStatus | None:
        found = self._read(VMStatus, self.status_path_of(vm))
        return None if found is None else found.record

    def statuses(self) -> dict[str, VMStatus]:
        from kazoo.exceptions import NoNodeError

        try:
            names = self.store.client.retry(self.store.client.zk.get_children, self.status_path)
        except NoNodeError:
            return {}
        out = {}
        for name in names:
            st = self.status(name)
            if st is not None:
                out[name] = st
        return out

    def put_status(self, status: VMStatus) -> None:
        """Last writer wins: statuses are observations, replaced whole, never merged."""
        from kazoo.exceptions import NodeExistsError, NoNodeError

        zk, path, data = self.store.client.zk, self.status_path_of(status.name), encode(status)
        try:
            self.store.client.retry(zk.set, path, data)
        except NoNodeError:
            try:
                self.store.client.retry(zk.create, path, data)
            except NodeExistsError:
                self.store.client.retry(zk.set, path, data)

    def drop_status(self, vm: str) -> None:
        from kazoo.exceptions import NoNodeError

        try:
            self.store.client.retry(self.store.client.zk.delete, self.status_path_of(vm))
        except NoNodeError:
            pass


def new_request_id(node: str, kind: RequestKind) -> str:
    return f"{kind.value}-{node}-{time.time():.3f}"


__all__ = ["NodeRequest", "RecordNotFound", "RequestKind", "RequestState", "RunnerTree", "Step",
           "StepState", "TransactionConflict", "VMStatus", "new_request_id"]
