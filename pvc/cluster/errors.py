"""Errors of the cluster state layer, rooted at :class:`pvc.errors.PvcError`.

Each one names what an operator (or the runner that called us) can act on: ZooKeeper is not
reachable, the tree is not initialised or has another schema version, a record in it is malformed,
a batched write lost a race, or a named node/VM does not exist.
"""

from __future__ import annotations

from pvc.errors import PvcError


class ClusterError(PvcError):
    """Root of the errors raised by :mod:`pvc.cluster`."""


class ClusterUnreachable(ClusterError, ConnectionError):
    """No ZooKeeper server of the ensemble answered before the deadline."""


class NotInitialised(ClusterError):
    """The cluster tree has no schema version: run ``pvc cluster init`` first."""


class SchemaMismatch(ClusterError):
    """The tree's schema version is not the one this code reads (upgrade it, or upgrade pvc)."""


class RecordError(ClusterError, TypeError):
    """A znode's data does not decode into its record: bad encoding, missing, unknown or
    ill-typed field. Never replaced by a default."""


class RecordNotFound(ClusterError, LookupError):
    """The named node, VM or key has no znode."""


class TransactionConflict(ClusterError):
    """A batched write was refused as a whole: a checked version moved, or a created path exists.

    ``op`` is the index of the failing operation, ``path`` its znode, ``reason`` kazoo's error.
    """

    def __init__(self, op: int, path: str, reason: str) -> None:
        super().__init__(f"transaction refused at op {op} ({path}): {reason}")
        self.op, self.path, self.reason = op, path, reason


class MigrationError(ClusterError):
    """No migration path between two schema versions, or a migration step failed."""


class LockTimeout(ClusterError, TimeoutError):
    """A cluster lock was not acquired before its deadline."""
