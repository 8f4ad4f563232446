"""The typed context every execution-module function receives as its first parameter.

It replaces Salt's injected ``__opts__``/``__grains__``/``__salt__``: a function sees only its
minion id, its own module's config section, the grains, a logger, the ``test`` (dry-run) flag and
a way to fire events on the pvc bus. Backend handles are opened lazily by the module itself
(through :meth:`ExecContext.resource`) so that a minion without libvirt still starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pvc.modules.registry import Registry


class EventSink(Protocol):
    """Anything that can put an event on the bus (the minion's return channel, or a logger)."""

    def __call__(self, tag: str, data: Mapping[str, Any]) -> None: ...


def log_events(log: logging.Logger) -> EventSink:
    """An event sink for ``pvc call``: there is no master, so events are only logged."""

    def sink(tag: str, data: Mapping[str, Any]) -> None:
        log.info("event %s %s", tag, dict(data))

    return sink


class Resources:
    """Per-minion cache of long-lived backend handles (libvirt connection, rados cluster).

    Modules ask for a handle by name with a factory; the first caller opens it, later callers
    reuse it. Shared by all contexts of one minion; thread-safe because jobs run in a pool.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Any] = {}

    def get(self, name: str, factory: Callable[[], Any]) -> Any:
        with self._lock:
            if name not in self._items:
                self._items[name] = factory()
            return self._items[name]

    def drop(self, name: str) -> None:
        """Forget a handle (e.g. after its connection broke) so the next call reopens it."""
        with self._lock:
            item = self._items.pop(name, None)
        _close(item)

    def close(self) -> None:
        with self._lock:
            items, self._items = list(self._items.values()), {}
        for item in items:
            _close(item)


def _close(item: Any) -> None:
    for attr in ("close", "shutdown"):
        fn = getattr(item, attr, None)
        if callable(fn):
            try:
                fn()
            except Exception:  # noqa: BLE001 - closing a broken handle must not mask the real error
                pass
            return


@dataclass(frozen=True)
class ExecContext:
    """What a function may use. ``config`` is the module's own validated config section;
    ``registry`` is the minion's function registry (only the ``sys`` module needs it)."""

    minion_id: str
    config: Any
    grains: Mapping[str, Any]
    log: logging.Logger
    fire_event: EventSink
    resources: Resources = field(default_factory=Resources)
    test: bool = False
    jid: str = ""
    registry: Registry | None = None

    def resource(self, name: str, factory: Callable[[], Any]) -> Any:
        return self.resources.get(name, factory)
