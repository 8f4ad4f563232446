"""The fencer's znodes: one :class:`FenceRecord` per node, every step of a fence and recovery.

A fence is written to ZooKeeper before each thing it does, so a primary that takes over finds
where the previous one stopped: ``dead`` (declared, not yet powered off), ``fence-failed`` (the
BMC did not confirm; retried at ``next_attempt``), ``fenced`` (confirmed off, VMs being started
elsewhere, one :class:`RecoveryStep` each) and then ``recovered`` — or ``cancelled`` when the node
came back before its power-off. A step goes PLANNED -> STARTING (written before the jobs) -> DONE
(in one transaction with the VM record's new node) or UNPLACED/FAILED with the reason; starting a
VM is idempotent on its target (a redefinition keeps its UUID, ``virt.start`` leaves a running VM
alone), so a resumed STARTING step starts the VM at most once.

Lives at ``<root>/runners/fences/<node>`` beside :mod:`pvc.runners.tree`'s znodes.

Example::

    fences = FenceTree(store)
    found = fences.get("hv1")         # Versioned[FenceRecord] or None
    found.record.state, found.record.steps
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass

from pvc.cluster.codec import decode, encode
from pvc.cluster.store import Batch, ClusterStore, Versioned, compare_and_set
from pvc.ids import validate_minion_id


class FenceState(str, enum.Enum):
    DEAD = "dead"                # declared dead; power-off not confirmed yet
    FENCE_FAILED = "fence-failed"  # the BMC did not confirm off; retried with backoff
    FENCED = "fenced"            # confirmed off; its VMs are being started elsewhere
    RECOVERED = "recovered"      # every VM started elsewhere, or left stopped with the reason
    CANCELLED = "cancelled"      # the node came back before its power-off


OPEN_STATES = frozenset({FenceState.DEAD, FenceState.FENCE_FAILED, FenceState.FENCED})


class StepState(str, enum.Enum):
    PLANNED = "planned"
    STARTING = "starting"    # jobs may be under way on the target: a resuming primary repeats them
    DONE = "done"
    UNPLACED = "unplaced"    # no node has room (or none is eligible): stays stopped, reason in error
    FAILED = "failed"        # the jobs failed ``attempts`` times; reason in error


FINAL_STEPS = frozenset({StepState.DONE, StepState.UNPLACED, StepState.FAILED})


@dataclass(frozen=True)
class RecoveryStep:
    """One VM of a fenced node: where it goes, whether it is started there, how it went."""

    vm: str
    target: str = ""
    start: bool = True
    state: StepState = StepState.PLANNED
    attempts: int = 0
    error: str = ""
    done_at: float | None = None


@dataclass(frozen=True)
class FenceRecord:
    """The fence of ``node``. ``detected`` is when it was declared dead (Unix time),
    ``last_keepalive`` its last keepalive then; ``attempts`` counts power-off attempts."""

    node: str
    state: FenceState
    detected: float
    last_keepalive: float | None = None
    owner: str = ""
    attempts: int = 0
    next_attempt: float = 0.0
    confirmed: float | None = None
    error: str = ""
    steps: tuple[RecoveryStep, ...] = ()
    finished: float | None = None

    def __post_init__(self) -> None:
        validate_minion_id(self.node)

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES

    def with_step(self, vm: str, **fields: object) -> FenceRecord:
        return dataclasses.replace(self, steps=tuple(dataclasses.replace(s, **fields) if s.vm == vm else s  # type: ignore[arg-type]
                                                     for s in self.steps))

    def step(self, vm: str) -> RecoveryStep | None:
        return next((s for s in self.steps if s.vm == vm), None)

    def summary(self, now: float) -> str:
        """One line for an operator: ``fence-failed, attempt 3, next try in 12 s: BMC ...``."""
        counts = ", ".join(f"{sum(1 for s in self.steps if s.state is st)} {st.value}" for st in StepState
                           if any(s.state is st for s in self.steps))
        vms = f"; VMs: {counts}" if counts else ""
        if self.state is FenceState.FENCE_FAILED:
            wait = max(0.0, self.next_attempt - now)
            return f"fence-failed, attempt {self.attempts}, next try in {wait:.0f} s: {self.error}{vms}"
        if self.confirmed is not None:
            return (f"{self.state.value}: declared dead {now - self.detected:.0f} s ago, power-off confirmed "
                    f"{self.confirmed - self.detected:.1f} s later{vms}")
        return f"{self.state.value}: declared dead {now - self.detected:.0f} s ago{vms}"


class FenceTree:
    def __init__(self, store: ClusterStore) -> None:
        self.store = store
        base = "" if store.schema.root == "/" else store.schema.root
        self.path = f"{base}/runners/fences"

    def ensure(self) -> None:
        self.store.client.retry(self.store.client.zk.ensure_path, self.path)

    def path_of(self, node: str) -> str:
        return f"{self.path}/{validate_minion_id(node)}"

    def get(self, node: str) -> Versioned[FenceRecord] | None:
        from kazoo.exceptions import NoNodeError

        path = self.path_of(node)
        try:
            data, stat = self.store.client.retry(self.store.client.zk.get, path)
        except NoNodeError:
            return None
        return Versioned(decode(FenceRecord, data, path), stat.version)

    def all(self) -> dict[str, Versioned[FenceRecord]]:
        from kazoo.exceptions import NoNodeError

        try:
            names = self.store.client.retry(self.store.client.zk.get_children, self.path)
        except NoNodeError:
            return {}
        found = {n: self.get(n) for n in sorted(names)}
        return {n: f for n, f in found.items() if f is not None}

    def put(self, batch: Batch, record: FenceRecord, version: int | None) -> None:
        batch.set(self.path_of(record.node), encode(record), version)

    def update(self, node: str, change: Callable[[FenceRecord], FenceRecord],
               extra: Callable[[FenceRecord, Batch], None] | None = None) -> FenceRecord | None:
        """Compare-and-set the record (and ``extra`` operations in the same transaction); None if
        there is no record."""
        return compare_and_set(self.store, lambda: self.get(node), self.put, change, extra)
