"""Typed results of a state run: one :class:`StateResult` per state, a :class:`StateRun` for all.

``result`` is True (in the wanted state), False (failed) or None (test mode: changes would be
made). ``duration`` is in seconds.

Example::

    run = apply_chunks(chunks, registry, StateContext(test=True))
    run.failed, run.changed          # lists of ChunkResult
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pvc.states.chunks import Chunk


@dataclass(frozen=True)
class StateResult:
    result: bool | None
    changes: Mapping[str, Any] = field(default_factory=dict)
    comment: str = ""
    duration: float = 0.0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChunkResult:
    """What one chunk did; ``run_num`` is its position in the run (Salt's ``__run_num__``)."""

    chunk: Chunk
    result: StateResult
    run_num: int


@dataclass(frozen=True)
class StateRun:
    """Every chunk that ran, in run order; ``stopped_by`` is the failhard state's tag, if any."""

    results: tuple[ChunkResult, ...]
    test: bool = False
    stopped_by: str | None = None

    @property
    def by_tag(self) -> dict[str, ChunkResult]:
        return {r.chunk.tag: r for r in self.results}

    def __getitem__(self, id_or_tag: str) -> StateResult:
        """The result of the chunk with this tag, or of the only chunk with this id."""
        found = [r for r in self.results if id_or_tag in (r.chunk.tag, r.chunk.id)]
        if len(found) != 1:
            raise KeyError(f"{id_or_tag!r} matches {len(found)} states")
        return found[0].result

    @property
    def failed(self) -> list[ChunkResult]:
        return [r for r in self.results if r.result.result is False]

    @property
    def changed(self) -> list[ChunkResult]:
        return [r for r in self.results if r.result.changes]

    @property
    def ok(self) -> bool:
        return not self.failed and self.stopped_by is None
