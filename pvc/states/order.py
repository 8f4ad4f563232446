"""Execution order: Salt's order key first, then requisites, as Salt's runtime walks them.

Salt runs the chunks in order-key order and, before running one, runs its not-yet-run requisites
(depth first, in the order they were declared). This module computes that same sequence up front,
so the plan is visible before anything runs and a cycle is reported before any state runs. A
``prereq`` turns the edge around: ``A prereq B`` makes A run before B (B is tried in test mode
first, by the engine).

Example::

    ordered = order_chunks(compile_sls(["web"], loader))
"""

from __future__ import annotations

from pvc.states.chunks import Chunk
from pvc.states.errors import RequisiteCycle


def dependencies(chunks: list[Chunk]) -> dict[str, list[str]]:
    """Tag -> the tags that must run before it, in declaration order."""
    deps: dict[str, list[str]] = {c.tag: [] for c in chunks}
    for chunk in chunks:
        for req in chunk.requisites:
            for tag in req.tags:
                if tag not in deps:
                    continue
                if req.base == "prereq":  # chunk runs before its prereq target
                    deps[tag].append(chunk.tag)
                else:
                    deps[chunk.tag].append(tag)
    return deps


def order_chunks(chunks: list[Chunk]) -> list[Chunk]:
    """Chunks in run order; raises :class:`RequisiteCycle` naming the loop's tags."""
    by_tag = {c.tag: c for c in chunks}
    deps = dependencies(chunks)
    done: set[str] = set()
    out: list[Chunk] = []
    for chunk in sorted(chunks, key=lambda c: (c.order, f"{c.state}{c.name}{c.fun}")):
        _visit(chunk.tag, deps, done, [], out, by_tag)
    return out


def _visit(tag: str, deps: dict[str, list[str]], done: set[str], path: list[str], out: list[Chunk],
           by_tag: dict[str, Chunk]) -> None:
    if tag in done:
        return
    if tag in path:
        raise RequisiteCycle([*path[path.index(tag):], tag])
    path.append(tag)
    for dep in deps[tag]:
        _visit(dep, deps, done, path, out, by_tag)
    path.pop()
    done.add(tag)
    out.append(by_tag[tag])
