"""Who wants to know how a job goes: one observer protocol for the bus, clients and the CLI.

The engine (the master's return collection, the client's stream) calls observers; it never
prints, fires events or streams by itself. The master's event bus and its client streams are
observers (:mod:`pvc.master.observers`), so is the CLI's progress line
(:class:`pvc.cli.progress.Progress`), and so will metrics be.

Example::

    class Count:
        def job_published(self, jid, fun, tgt, tgt_type, minions): ...
        def job_returned(self, jid, mid, ret): self.n += 1
        def job_finished(self, jid, missing): ...

    observers = Observers([bus, streams, Count()])
    observers.job_returned("2026...", "web1", Return(ok=True, data=True))
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from pvc.results import Return

log = logging.getLogger(__name__)


class JobObserver(Protocol):
    def job_published(self, jid: str, fun: str, tgt: str, tgt_type: str, minions: Sequence[str]) -> None: ...

    def job_returned(self, jid: str, mid: str, ret: Return) -> None: ...

    def job_finished(self, jid: str, missing: Mapping[str, str]) -> None: ...


class Observers:
    """Several observers as one; a failing observer is logged and never stops the others."""

    def __init__(self, observers: Iterable[JobObserver] = ()) -> None:
        self.observers = list(observers)

    def add(self, observer: JobObserver) -> None:
        self.observers.append(observer)

    def job_published(self, jid: str, fun: str, tgt: str, tgt_type: str, minions: Sequence[str]) -> None:
        for o in self.observers:
            self._guard(o.job_published, jid, fun, tgt, tgt_type, minions)

    def job_returned(self, jid: str, mid: str, ret: Return) -> None:
        for o in self.observers:
            self._guard(o.job_returned, jid, mid, ret)

    def job_finished(self, jid: str, missing: Mapping[str, str]) -> None:
        for o in self.observers:
            self._guard(o.job_finished, jid, missing)

    @staticmethod
    def _guard(fn: object, *args: object) -> None:
        try:
            fn(*args)  # type: ignore[operator]
        except Exception:
            log.exception("job observer %r failed", fn)
