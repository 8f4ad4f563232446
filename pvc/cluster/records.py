"""Typed records stored in the cluster tree (schema v2), one frozen dataclass per znode kind.

Encoded as JSON by :mod:`pvc.cluster.codec` and decoded totally: an unknown enum value or a
string where a number belongs is a :class:`~pvc.cluster.errors.RecordError`.

>>> from pvc.cluster.codec import decode, encode
>>> decode(ClusterConfig, encode(ClusterConfig())).keepalive_interval
2.0
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from pvc.ids import validate_minion_id


class DaemonState(str, enum.Enum):
    """The node daemon's life: written by the node (init, run, stopped) or by the fencer."""

    INIT = "init"
    RUN = "run"
    STOPPED = "stopped"
    DEAD = "dead"
    FENCED = "fenced"
    FENCE_FAILED = "fence-failed"


FENCE_STATES = frozenset({DaemonState.DEAD, DaemonState.FENCED, DaemonState.FENCE_FAILED})


class DomainState(str, enum.Enum):
    """Whether a node takes VMs: written by the flush/ready runners, never by the node."""

    READY = "ready"
    FLUSHING = "flushing"
    FLUSHED = "flushed"
    UNFLUSHING = "unflushing"


class VMState(str, enum.Enum):
    """What the operator wants a VM to be."""

    START = "start"
    SHUTDOWN = "shutdown"
    STOP = "stop"
    RESTART = "restart"
    DISABLE = "disable"
    MIGRATE = "migrate"
    UNMIGRATE = "unmigrate"
    FAIL = "fail"


class MigrationMethod(str, enum.Enum):
    LIVE = "live"
    LIVE_OR_SHUTDOWN = "live-or-shutdown"
    SHUTDOWN = "shutdown"


class Selector(str, enum.Enum):
    """How a flush picks a target node: most free memory, least provisioned memory, lowest load,
    fewest allocated vCPUs, fewest VMs."""

    MEM = "mem"
    MEMPROV = "memprov"
    LOAD = "load"
    VCPUS = "vcpus"
    VMS = "vms"


class FailedFencePolicy(str, enum.Enum):
    """What to do with a dead node's VMs when its power-off could not be confirmed."""

    NONE = "none"        # leave them: a VM must never run on two nodes
    MIGRATE = "migrate"  # restart them elsewhere anyway (only with shared storage locks)


@dataclass(frozen=True)
class ClusterConfig:
    """Cluster-wide settings at ``/config``. ``fence_grace`` counts seconds without keepalive
    after the session ended before a node is declared dead."""

    maintenance: bool = False
    keepalive_interval: float = 2.0
    fence_grace: float = 6.0
    failed_fence: FailedFencePolicy = FailedFencePolicy.NONE
    default_selector: Selector = Selector.MEM
    default_migration_method: MigrationMethod = MigrationMethod.LIVE

    def __post_init__(self) -> None:
        if not 0.1 <= self.keepalive_interval <= 60:
            raise ValueError(f"keepalive_interval {self.keepalive_interval} not in [0.1, 60] s")
        if self.fence_grace < self.keepalive_interval:
            raise ValueError("fence_grace must be at least one keepalive_interval")


@dataclass(frozen=True)
class NodeResources:
    """What a node reports with each keepalive (memory in MiB)."""

    memory_total: int = 0
    memory_used: int = 0
    memory_provisioned: int = 0
    vcpus_allocated: int = 0
    load: float = 0.0
    running_vms: tuple[str, ...] = ()

    @property
    def memory_free(self) -> int:
        return self.memory_total - self.memory_used


@dataclass(frozen=True)
class NodeRecord:
    """A hypervisor node at ``/nodes/<name>``; ``keepalive`` is the Unix time of its last write
    (None before the first). Liveness is the separate ephemeral ``/alive/<name>``."""

    name: str
    daemon_state: DaemonState = DaemonState.INIT
    domain_state: DomainState = DomainState.READY
    resources: NodeResources = field(default_factory=NodeResources)
    keepalive: float | None = None

    def __post_init__(self) -> None:
        validate_minion_id(self.name)


@dataclass(frozen=True)
class VMRecord:
    """A VM at ``/vms/<name>``: libvirt definition, desired state and placement. ``selector``
    None means the cluster's ``default_selector``; an empty ``node_limit`` means any node."""

    name: str
    definition: str
    desired_state: VMState = VMState.START
    node: str | None = None
    last_node: str | None = None
    tags: tuple[str, ...] = ()
    migration_method: MigrationMethod = MigrationMethod.LIVE
    selector: Selector | None = None
    node_limit: tuple[str, ...] = ()
    autostart: bool = False
    failure_reason: str | None = None

    def __post_init__(self) -> None:
        validate_minion_id(self.name)
        for n in (self.node, self.last_node, *self.node_limit):
            if n is not None:
                validate_minion_id(n)


@dataclass(frozen=True)
class PrimaryRecord:
    """Which master is primary (``/primary``), since when, and its election sequence number."""

    id: str
    since: float
    sequence: int
