"""The one versioned schema: logical keys mapped to znode paths, per schema version.

Code never writes a znode path by hand: it asks the :class:`Schema` of the tree's version for a
key (``schema.path("vm", vm="web1")``). Every id placed in a path is validated first (the safe
minion-id charset: no ``/``, no ``..``), so a path is only ever built from checked names.
A new layout is a new entry in :data:`LAYOUTS` plus a step in :mod:`pvc.cluster.migrations`.

>>> Schema.latest("/pvc").path("vm", vm="web1")
'/pvc/vms/web1'
>>> Schema.of(1, "/pvc").path("vm", vm="web1")
'/pvc/domains/web1'
"""

from __future__ import annotations

import posixpath
import string
from collections.abc import Mapping
from dataclasses import dataclass

from pvc.cluster.errors import SchemaMismatch
from pvc.errors import InvalidArgument
from pvc.ids import validate_minion_id

_V1: dict[str, str] = {
    "schema": "/schema",
    "schema_version": "/schema/version",
    "config": "/config",
    "primary": "/primary",
    "election": "/election",
    "nodes": "/nodes",
    "node": "/nodes/{node}",
    "alive": "/alive",
    "node_alive": "/alive/{node}",
    "vms": "/domains",
    "vm": "/domains/{vm}",
    "networks": "/networks",
    "network": "/networks/{network}",
    "storage": "/storage",
    "storage_pool": "/storage/{pool}",
    "locks": "/locks",
    "lock": "/locks/{lock}",
}
# v2: VMs moved from /domains to /vms (PVC's name was about libvirt, ours is about the operator's
# noun) and the cluster config gained ``failed_fence``.
_V2 = {**_V1, "vms": "/vms", "vm": "/vms/{vm}"}

LAYOUTS: Mapping[int, Mapping[str, str]] = {1: _V1, 2: _V2}
LATEST = max(LAYOUTS)
# Containers ``pvc cluster init`` creates (empty) besides the records.
CONTAINERS = ("nodes", "alive", "vms", "networks", "storage", "locks", "election")


@dataclass(frozen=True)
class Schema:
    """Paths of one schema version under one root (``/pvc`` by default; tests use their own)."""

    version: int
    root: str = "/pvc"

    def __post_init__(self) -> None:
        if self.version not in LAYOUTS:
            raise SchemaMismatch(f"unknown schema version {self.version} (known: {sorted(LAYOUTS)})")
        if not self.root.startswith("/") or posixpath.normpath(self.root) != self.root:
            raise InvalidArgument(f"cluster root must be a normalised absolute path: {self.root!r}")

    @classmethod
    def of(cls, version: int, root: str = "/pvc") -> Schema:
        return cls(version, root)

    @classmethod
    def latest(cls, root: str = "/pvc") -> Schema:
        return cls(LATEST, root)

    def keys(self) -> list[str]:
        return list(LAYOUTS[self.version])

    def path(self, key: str, **ids: str) -> str:
        """The znode of ``key`` with its ids filled in; unknown keys and wrong ids raise."""
        try:
            template = LAYOUTS[self.version][key]
        except KeyError:
            raise InvalidArgument(f"schema v{self.version} has no key {key!r}") from None
        wanted = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        if wanted != set(ids):
            raise InvalidArgument(f"key {key!r} needs ids {sorted(wanted)}, got {sorted(ids)}")
        checked = {k: validate_minion_id(v) for k, v in ids.items()}
        base = "" if self.root == "/" else self.root
        return base + template.format(**checked)
