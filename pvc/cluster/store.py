"""Typed access to the cluster tree: read records with their versions, write them in batches.

Reads return :class:`Versioned` records; writes go through a :class:`Batch` (one ZooKeeper
``multi``) where every update names the version it read, so a concurrent writer makes the whole
batch fail with :class:`TransactionConflict` instead of being overwritten. kazoo's ``commit()``
returns errors in a list rather than raising; :meth:`Batch.commit` turns them into that exception.

Example::

    store = ClusterStore.open(cc)
    vm = store.vm("web1")
    with store.batch() as b:
        b.put_vm(dataclasses.replace(vm.record, node="hv2", last_node="hv1"), vm.version)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

from pvc.cluster.client import ClusterClient
from pvc.cluster.codec import decode, encode
from pvc.cluster.errors import (
    ClusterUnreachable,
    LockTimeout,
    NotInitialised,
    RecordNotFound,
    SchemaMismatch,
    TransactionConflict,
)
from pvc.cluster.records import ClusterConfig, NodeRecord, PrimaryRecord, VMRecord
from pvc.cluster.schema import LATEST, Schema

T = TypeVar("T")


@dataclass(frozen=True)
class Versioned(Generic[T]):
    """A record and the znode version it was read at (pass it back to write it)."""

    record: T
    version: int


class Batch:
    """Operations committed together or not at all. ``version=None`` creates the znode."""

    def __init__(self, client: ClusterClient, schema: Schema) -> None:
        self.schema = schema
        self._tx = client.zk.transaction()
        self._paths: list[str] = []

    def create(self, path: str, data: bytes = b"", ephemeral: bool = False) -> None:
        self._tx.create(path, data, ephemeral=ephemeral)
        self._paths.append(path)

    def set(self, path: str, data: bytes, version: int | None) -> None:
        """Set ``path`` if it is still at ``version`` (``-1``: any), or create it (``None``)."""
        if version is None:
            self.create(path, data)
            return
        self._tx.set_data(path, data, version)
        self._paths.append(path)

    def check(self, path: str, version: int) -> None:
        self._tx.check(path, version)
        self._paths.append(path)

    def delete(self, path: str, version: int = -1) -> None:
        self._tx.delete(path, version)
        self._paths.append(path)

    def put_config(self, config: ClusterConfig, version: int | None) -> None:
        self.set(self.schema.path("config"), encode(config), version)

    def put_node(self, node: NodeRecord, version: int | None) -> None:
        self.set(self.schema.path("node", node=node.name), encode(node), version)

    def put_vm(self, vm: VMRecord, version: int | None) -> None:
        self.set(self.schema.path("vm", vm=vm.name), encode(vm), version)

    def delete_vm(self, name: str, version: int) -> None:
        self.delete(self.schema.path("vm", vm=name), version)

    def commit(self) -> list[Any]:
        """Apply every operation, or raise :class:`TransactionConflict` naming the first that
        failed (nothing is applied then). Not retried: after a connection loss the batch may
        or may not have been applied, so the caller re-reads and decides."""
        from kazoo.exceptions import ConnectionLoss, RolledBackError, RuntimeInconsistency

        if not self._paths:
            return []
        try:
            results: list[Any] = self._tx.commit()
        except ConnectionLoss as exc:
            raise ClusterUnreachable(f"connection lost while committing a batch: {exc!r}") from None
        errors = [(i, r) for i, r in enumerate(results) if isinstance(r, Exception)]
        if errors:
            real = [e for e in errors if not isinstance(e[1], (RolledBackError, RuntimeInconsistency))]
            op, err = (real or errors)[0]
            raise TransactionConflict(op, self._paths[op], type(err).__name__)
        return results

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.commit()


class ClusterStore:
    """The tree of one cluster at the latest schema version (see :meth:`open`)."""

    def __init__(self, client: ClusterClient, schema: Schema) -> None:
        self.client, self.schema = client, schema

    @classmethod
    def open(cls, client: ClusterClient, root: str = "/pvc") -> ClusterStore:
        """The store of the tree at ``root``; raises if it is not initialised or not at the
        version this code reads (run the migrations first)."""
        version = read_schema_version(client, root)
        if version != LATEST:
            raise SchemaMismatch(f"cluster tree at {root} is schema v{version}, this pvc reads "
                                 f"v{LATEST}: run `pvc cluster upgrade`")
        return cls(client, Schema(version, root))

    def batch(self) -> Batch:
        return Batch(self.client, self.schema)

    def _read(self, cls: type[T], path: str) -> Versioned[T]:
        from kazoo.exceptions import NoNodeError

        try:
            data, stat = self.client.retry(self.client.zk.get, path)
        except NoNodeError:
            raise RecordNotFound(f"no znode {path}") from None
        return Versioned(decode(cls, data, path), stat.version)

    def _children(self, key: str) -> list[str]:
        return sorted(self.client.retry(self.client.zk.get_children, self.schema.path(key)))

    def config(self) -> Versioned[ClusterConfig]:
        return self._read(ClusterConfig, self.schema.path("config"))

    def node(self, name: str) -> Versioned[NodeRecord]:
        return self._read(NodeRecord, self.schema.path("node", node=name))

    def nodes(self) -> list[Versioned[NodeRecord]]:
        return [self.node(n) for n in self._children("nodes")]

    def alive(self) -> set[str]:
        """Names of the nodes holding a live session (their ephemeral ``/alive/<name>``)."""
        return set(self._children("alive"))

    def vm(self, name: str) -> Versioned[VMRecord]:
        return self._read(VMRecord, self.schema.path("vm", vm=name))

    def vms(self) -> list[Versioned[VMRecord]]:
        return [self.vm(n) for n in self._children("vms")]

    def primary(self) -> PrimaryRecord | None:
        """The primary master last recorded by the election, if any."""
        try:
            return self._read(PrimaryRecord, self.schema.path("primary")).record
        except RecordNotFound:
            return None

    def update_node(self, name: str, change: Callable[[NodeRecord | None], NodeRecord],
                    attempts: int = 5) -> NodeRecord:
        """Read-modify-write of one node record; ``change`` gets None if it does not exist yet.
        Re-reads and retries on a conflict up to ``attempts`` times, then raises it."""
        for attempt in range(attempts):
            try:
                current: Versioned[NodeRecord] | None = self.node(name)
            except RecordNotFound:
                current = None
            new = change(current.record if current else None)
            try:
                with self.batch() as b:
                    b.put_node(new, current.version if current else None)
                return new
            except TransactionConflict:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def lock(self, name: str, identifier: str, timeout: float) -> Iterator[None]:
        """Hold the cluster lock ``name`` (kazoo ``Lock`` at ``/locks/<name>``) for a block."""
        lock = self.client.zk.Lock(self.schema.path("lock", lock=name), identifier)
        if not lock.acquire(timeout=timeout):
            raise LockTimeout(f"lock {name} not acquired within {timeout:g} s")
        try:
            yield
        finally:
            lock.release()


def compare_and_set(store: ClusterStore, read: Callable[[], Versioned[T] | None],
                    put: Callable[[Batch, T, int], None], change: Callable[[T], T],
                    extra: Callable[[T, Batch], None] | None = None, attempts: int = 8) -> T | None:
    """Read-modify-write one record: ``put(batch, change(record), version)`` plus ``extra(new,
    batch)`` in one transaction; on a conflict re-read and retry, up to ``attempts`` times, then
    raise it. None when ``read`` finds no record.

    Example: ``compare_and_set(store, lambda: tree.request("hv1"), tree.put_request, finish)``
    """
    for attempt in range(attempts):
        found = read()
        if found is None:
            return None
        new = change(found.record)
        try:
            with store.batch() as b:
                put(b, new, found.version)
                if extra is not None:
                    extra(new, b)
            return new
        except TransactionConflict:
            if attempt == attempts - 1:
                raise
    return None


def read_schema_version(client: ClusterClient, root: str = "/pvc") -> int:
    """The tree's schema version (v1's path is the same in every version by design)."""
    from kazoo.exceptions import NoNodeError

    path = Schema(1, root).path("schema_version")
    try:
        data, _ = client.retry(client.zk.get, path)
    except NoNodeError:
        raise NotInitialised(f"no cluster at {root} (no {path}): run `pvc cluster init`") from None
    try:
        return int(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise SchemaMismatch(f"{path} holds {data[:40]!r}, not a version number") from None
