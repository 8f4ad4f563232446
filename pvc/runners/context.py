"""The typed context every runner function receives as its first parameter.

Like the execution modules' :class:`~pvc.execution.context.ExecContext`, nothing is injected:
a runner sees the cluster store, a way to run jobs on nodes (:class:`~pvc.runners.jobs.NodeJobs`,
over the local master's client socket), a logger, an event sink, the ``test`` (dry-run) flag
and the registry (for ``sys.doc``).

Example::

    def ping(ctx: RunnerContext) -> dict[str, bool]:
        "Which nodes answer."
        return {n: ctx.jobs.ping(n) for n in ctx.node_names()}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pvc.cluster.store import ClusterStore
from pvc.runners.jobs import NodeJobs
from pvc.runners.tree import RunnerTree

if TYPE_CHECKING:
    from pvc.runners.registry import RunnerRegistry

EventFire = Callable[[str, Mapping[str, Any]], None]
Progress = Callable[[str, Mapping[str, Any]], None]
# How a source node's libvirtd reaches a destination node's (PVC's convention; in the lab the
# node names resolve to the nodes' bridge addresses and libvirtd listens on TCP).
DEFAULT_MIGRATE_URI = "qemu+tcp://{node}/system"


@dataclass(frozen=True)
class RunnerContext:
    store: ClusterStore
    jobs: NodeJobs
    log: logging.Logger
    fire_event: EventFire
    test: bool = False
    registry: RunnerRegistry | None = None
    migrate_uri: str = DEFAULT_MIGRATE_URI
    identity: str = "cli"
    progress: Progress | None = None
    file_roots: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # the master's (state.orchestrate)

    def report(self, what: str, data: Mapping[str, Any]) -> None:
        """Tell the observer (the CLI's progress display), if any; never the engine's business."""
        if self.progress is not None:
            self.progress(what, data)

    @property
    def tree(self) -> RunnerTree:
        return RunnerTree(self.store)

    def dest_uri(self, node: str) -> str:
        return self.migrate_uri.format(node=node)


def log_events(log: logging.Logger) -> EventFire:
    """An event sink without a master (unit tests): events are only logged."""

    def sink(tag: str, data: Mapping[str, Any]) -> None:
        log.info("event %s %s", tag, dict(data))

    return sink
