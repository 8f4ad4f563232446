"""Creating the cluster tree and moving it from one schema version to the next.

Each :class:`Migration` turns version N into N+1 inside one ZooKeeper transaction that also
checks and bumps ``/schema/version``: two masters upgrading at once cannot both apply it (the
second gets :class:`TransactionConflict`), and a crash mid-way leaves the old tree intact.
A step works on raw JSON maps, not on today's record classes, so old steps keep working
after the records change again.

>>> [m.source for m in MIGRATIONS.plan(1, 2)]
[1]
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pvc.cluster.client import ClusterClient
from pvc.cluster.errors import MigrationError, NotInitialised, RecordError
from pvc.cluster.records import ClusterConfig
from pvc.cluster.schema import CONTAINERS, LATEST, Schema
from pvc.cluster.store import Batch, read_schema_version


@dataclass(frozen=True)
class Migration:
    """One step ``source`` → ``source + 1``; ``apply`` adds its operations to the batch."""

    source: int
    description: str
    apply: Callable[[ClusterClient, Schema, Batch], None]

    @property
    def target(self) -> int:
        return self.source + 1


class MigrationRegistry:
    """The ordered steps; registering a second step from the same version is refused."""

    def __init__(self) -> None:
        self._steps: dict[int, Migration] = {}

    def step(self, source: int, description: str) -> Callable[[Callable[..., None]], Migration]:
        def register(fn: Callable[[ClusterClient, Schema, Batch], None]) -> Migration:
            if source in self._steps:
                raise MigrationError(f"a migration from v{source} is already registered")
            m = Migration(source, description, fn)
            self._steps[source] = m
            return m

        return register

    def plan(self, current: int, target: int = LATEST) -> list[Migration]:
        if current > target:
            raise MigrationError(f"tree is v{current}, newer than v{target}: upgrade pvc")
        missing = [v for v in range(current, target) if v not in self._steps]
        if missing:
            raise MigrationError(f"no migration from v{missing[0]}")
        return [self._steps[v] for v in range(current, target)]


MIGRATIONS = MigrationRegistry()


def _raw(client: ClusterClient, path: str) -> tuple[dict[str, Any], int]:
    data, stat = client.retry(client.zk.get, path)
    try:
        value = json.loads(data)
    except ValueError:
        raise RecordError(f"{path}: not JSON") from None
    if not isinstance(value, dict):
        raise RecordError(f"{path}: expected an object")
    return value, stat.version


@MIGRATIONS.step(1, "move VMs from /domains to /vms; config gains failed_fence (none)")
def _v1_to_v2(client: ClusterClient, old: Schema, batch: Batch) -> None:
    new = Schema(2, old.root)
    config, version = _raw(client, old.path("config"))
    if "failed_fence" in config:
        raise RecordError(f"{old.path('config')}: v1 config already has failed_fence")
    config["failed_fence"] = "none"
    batch.set(old.path("config"), json.dumps(config, sort_keys=True).encode(), version)
    batch.create(new.path("vms"))
    for name in sorted(client.retry(client.zk.get_children, old.path("vms"))):
        data, stat = client.retry(client.zk.get, old.path("vm", vm=name))
        batch.create(new.path("vm", vm=name), data)
        batch.delete(old.path("vm", vm=name), stat.version)
    batch.delete(old.path("vms"))


def upgrade(client: ClusterClient, root: str = "/pvc", target: int = LATEST) -> list[Migration]:
    """Apply every step from the tree's version to ``target``, one transaction each."""
    done = []
    for m in MIGRATIONS.plan(read_schema_version(client, root), target):
        old = Schema(m.source, root)
        _, stat = client.retry(client.zk.get, old.path("schema_version"))
        batch = Batch(client, old)
        m.apply(client, old, batch)
        batch.set(old.path("schema_version"), str(m.target).encode(), stat.version)
        batch.commit()
        done.append(m)
    return done


def init_cluster(client: ClusterClient, root: str = "/pvc",
                 config: ClusterConfig | None = None, overwrite: bool = False) -> Schema:
    """Create an empty tree at the latest version in one transaction. Refuses an existing tree
    (:class:`MigrationError`) unless ``overwrite``, which deletes everything under ``root``."""
    schema = Schema.latest(root)
    try:
        version = read_schema_version(client, root)
    except NotInitialised:
        version = None
    if version is not None and not overwrite:
        raise MigrationError(f"a v{version} cluster already exists at {root} "
                             "(upgrade it, or --overwrite to erase it)")
    if overwrite and version is not None:
        if root == "/":
            raise MigrationError("refusing to erase / (use a cluster root such as /pvc)")
        client.retry(client.zk.delete, root, recursive=True)
    client.retry(client.zk.ensure_path, root)
    batch = Batch(client, schema)
    batch.create(schema.path("schema"))
    batch.create(schema.path("schema_version"), str(schema.version).encode())
    batch.put_config(config or ClusterConfig(), None)
    for key in CONTAINERS:
        batch.create(schema.path(key))
    batch.commit()
    return schema
