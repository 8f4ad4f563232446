"""The typed context every execution-module function receives as its first parameter.

It replaces Salt's injected ``__opts__``/``__grains__``/``__salt__``: a function sees only its
minion id, its own module's config section, the grains, a logger, the ``test`` (dry-run) flag and
a way to fire events on the pvc bus, and the job's deadline and cancellation handle. Backend handles are opened lazily by the module itself
(through :attr:`ExecContext.resources`, handed to the adapters) so that a minion without libvirt
still starts.

Example::

    def ping(ctx: ExecContext) -> bool:
        ctx.log.debug("ping from job %s", ctx.jid)
        return True
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pvc.execution.control import JobControl
from pvc.execution.resources import Resources

if TYPE_CHECKING:
    from pvc.execution.registry import Registry
    from pvc.wire.files import FileAnswer, FileRequest
    from pvc.wire.mine import MineData, MineRequest


class EventSink(Protocol):
    """Anything that can put an event on the bus (the minion's return channel, or a logger)."""

    def __call__(self, tag: str, data: Mapping[str, Any]) -> None: ...


def log_events(log: logging.Logger) -> EventSink:
    """An event sink for ``pvc call``: there is no master, so events are only logged."""

    def sink(tag: str, data: Mapping[str, Any]) -> None:
        log.info("event %s %s", tag, dict(data))

    return sink


class MasterLink(Protocol):
    """A job's way to ask the master for files, pillar (:mod:`pvc.wire.files`) and mine data
    (:mod:`pvc.wire.mine`) over the minion's sealed channel; None under ``pvc call``. ``request`` blocks the job's thread until
    the answer with the same ``rid`` arrives; ``cache_dir`` is where fetched files are kept."""

    cache_dir: str

    def next_rid(self) -> int: ...

    def request(self, rec: FileRequest | MineRequest) -> FileAnswer | MineData: ...


@dataclass(frozen=True)
class ExecContext:
    """What a function may use. ``config`` is the module's own validated config section;
    ``registry`` is the minion's function registry (only the ``sys`` module needs it);
    ``control`` is the job's deadline and cancellation handle (:mod:`pvc.execution.control`);
    ``pillar`` is the minion's pillar during a state run (``pillar.get``, ``config.get``), else empty."""

    minion_id: str
    config: Any
    grains: Mapping[str, Any]
    log: logging.Logger
    fire_event: EventSink
    resources: Resources = field(default_factory=Resources)
    test: bool = False
    jid: str = ""
    registry: Registry | None = None
    control: JobControl = field(default_factory=JobControl)
    master: MasterLink | None = None
    # the context another module's function gets in the same job (module, test flag): how the
    # state module runs execution functions with their own config sections
    context_for: Callable[[str, bool], ExecContext] | None = None
    pillar: Mapping[str, Any] = field(default_factory=dict)
