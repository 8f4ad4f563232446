"""Run ordered chunks against a :class:`StateRegistry`: requisites, conditions, failhard.

One pass over the ordered chunks (:func:`pvc.states.order.order_chunks`); for each, in order:
requisites not found -> False; a failed ``require``/``watch``/``onchanges`` target -> False "One or
more requisite failed"; ``onfail`` with no failed target and ``onchanges`` with no changed target
-> skipped (True); ``prereq`` -> the target is first tried in test mode and this state runs only
if the target would change; ``onlyif``/``unless``/``creates`` -> skipped when they say so; then the
function (with ``retry``, then ``check_cmd``: :mod:`pvc.states.conditions`), and ``mod_watch`` when a watched state changed and the function itself changed nothing.
``test=True`` is the same path: state functions plan and skip their apply step
(:meth:`StateContext.plan`). A state function that is missing, gets bad arguments or raises fails
its own state only. When the run is a job that gets killed (or passes its deadline), no
further state starts: the job's error is raised.

Example::

    run = apply_chunks(order_chunks(chunks), default_registry(), StateContext(test=True))
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from pvc.errors import PvcError
from pvc.execution.control import current_control
from pvc.states.chunks import Chunk
from pvc.states.conditions import check_cmd, condition_result, with_retry
from pvc.states.context import StateContext
from pvc.states.registry import StateRegistry, UnknownStateFunction
from pvc.states.result import ChunkResult, StateResult, StateRun

REQUISITE_FAILED = "One or more requisite failed"
NOT_FOUND = "The following requisites were not found"


def _not_found_comment(chunk: Chunk) -> str:
    lines = [f"{NOT_FOUND}:"]
    for kind in dict.fromkeys(req.kind for req in chunk.missing):
        lines.append(f"                   {kind}:")
        lines.extend(f"                       {req.describe()}" for req in chunk.missing if req.kind == kind)
    return "\n".join(lines)


@dataclass(frozen=True)
class _Params:
    """What a state function accepts, read once: ``inspect.signature`` on every call was about a
    third of a 500-state run. ``required``: the keyword arguments without a default (when the
    call has them all, binding cannot fail, so the signature is only bound to word an error)."""

    signature: inspect.Signature
    accepted: frozenset[str]
    required: frozenset[str]
    takes_all: bool


@lru_cache(maxsize=4096)  # one entry per state function (a few hundred exist): bounded all the same
def _params_of(func: Callable[..., Any]) -> _Params:
    signature = inspect.signature(func)
    params = list(signature.parameters.values())[1:]
    named = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return _Params(signature, frozenset(p.name for p in named if p.kind is not p.POSITIONAL_ONLY),
                   frozenset(p.name for p in named if p.default is p.empty),  # a positional-only one: never met
                   any(p.kind is p.VAR_KEYWORD for p in params))


def call_state(func: Callable[..., Any], ctx: StateContext, kwargs: Mapping[str, Any], fullname: str) -> StateResult:
    """Call one state function: bind the arguments it accepts, turn any failure into a result."""
    start = time.monotonic()
    params = _params_of(func)
    call = dict(kwargs) if params.takes_all else {k: v for k, v in kwargs.items() if k in params.accepted}
    ignored = tuple(f"'{k}' is not an argument of {fullname}: ignored" for k in kwargs if k not in call)
    if not params.required <= call.keys():
        try:
            params.signature.bind(ctx, **call)  # raises with Python's own words for what is missing
        except TypeError as exc:
            return StateResult(False, {}, f"{fullname}: {exc}", time.monotonic() - start, ignored)
    try:
        result = func(ctx, **call)
        if not isinstance(result, StateResult):
            raise TypeError(f"returned {type(result).__name__}, not StateResult")
    except PvcError as exc:
        result = StateResult(False, {}, str(exc))
    except Exception as exc:  # a buggy state fails itself, not the whole run
        ctx.log.exception("state %s raised", fullname)
        result = StateResult(False, {}, f"{fullname} failed: {type(exc).__name__}: {exc}")
    return replace(result, duration=time.monotonic() - start, warnings=result.warnings + ignored)


class _Runner:
    def __init__(self, registry: StateRegistry, ctx: StateContext, failhard: bool) -> None:
        self.registry = registry
        self.ctx = ctx
        self.failhard = failhard
        self.done: dict[str, StateResult] = {}
        self.by_tag: dict[str, Chunk] = {}
        self.prerequired: dict[str, list[str]] = {}

    def run(self, chunks: list[Chunk]) -> StateRun:
        self.by_tag = {c.tag: c for c in chunks}
        for chunk in chunks:
            for req in chunk.requisites:
                if req.base == "prereq":
                    for tag in req.tags:
                        self.prerequired.setdefault(tag, []).append(chunk.tag)
        out = []
        control = current_control()
        for num, chunk in enumerate(chunks):
            if control is not None:
                control.check()  # the job was killed or timed out: apply nothing more
            result = self.run_chunk(chunk)
            self.done[chunk.tag] = result
            out.append(ChunkResult(chunk, result, num))
            failhard = self.failhard if chunk.failhard is None else chunk.failhard
            if failhard and result.result is False:
                return StateRun(tuple(out), self.ctx.test, stopped_by=chunk.tag)
        return StateRun(tuple(out), self.ctx.test)

    def _results(self, chunk: Chunk, *kinds: str) -> list[tuple[str, StateResult | None]] | None:
        reqs = [r for r in chunk.requisites if r.kind in kinds]
        if not reqs:
            return None
        return [(tag, self.done.get(tag)) for req in reqs for tag in req.tags]

    def _failed(self, chunk: Chunk) -> list[str]:
        """Tags of required states that failed (or never ran), per require/watch/onchanges rules."""
        failed = []
        for kinds, needs_all in ((("require", "watch", "onchanges", "onchanges_any"), False),
                                 (("require_any", "watch_any"), True)):
            results = self._results(chunk, *kinds) or []
            bad = [tag for tag, res in results if res is None or res.result is False]
            if results and (len(bad) == len(results) if needs_all else bad):
                failed.extend(bad)
        for tag in self.prerequired.get(chunk.tag, []):
            res = self.done.get(tag)
            if res is None or res.result is False:
                failed.append(tag)
        return failed

    def _describe(self, tags: list[str]) -> str:
        return ", ".join(f"{self.by_tag[t].sls}.{self.by_tag[t].id}" if t in self.by_tag else t for t in tags)

    def run_chunk(self, chunk: Chunk) -> StateResult:
        if chunk.missing:
            return StateResult(False, {}, _not_found_comment(chunk))
        failed = self._failed(chunk)
        if failed:
            return StateResult(False, {}, f"{REQUISITE_FAILED}: {self._describe(failed)}")
        skip = self._skip_reason(chunk)
        if skip is not None:
            return skip
        for req in chunk.kinds("prereq"):
            for tag in req.tags:
                trial = self._call(self.by_tag[tag], self.ctx.with_test(True))
                if trial.result is False:
                    return StateResult(False, {}, f"{REQUISITE_FAILED}: {self._describe([tag])}")
                if not trial.changes:
                    return StateResult(True, {}, "No changes detected")
        result = with_retry(chunk, self.ctx, lambda: self._call(chunk, self.ctx))
        result = check_cmd(chunk, self.ctx, result)
        watched = self._results(chunk, "watch", "watch_any") or []
        if result.result is not False and not result.changes and any(r and r.changes for _, r in watched):
            result = self._mod_watch(chunk, result)
        return result

    def _skip_reason(self, chunk: Chunk) -> StateResult | None:
        onfail = self._results(chunk, "onfail", "onfail_any")
        if onfail is not None and not any(r is not None and r.result is False for _, r in onfail):
            return StateResult(True, {}, "State was not run because onfail req did not change")
        onfail_all = self._results(chunk, "onfail_all")
        if onfail_all is not None and not all(r is not None and r.result is False for _, r in onfail_all):
            return StateResult(True, {}, "State was not run because onfail req did not change")
        onchanges = self._results(chunk, "onchanges", "onchanges_any")
        if onchanges is not None and not any(r is not None and r.changes for _, r in onchanges):
            return StateResult(True, {}, "State was not run because none of the onchanges reqs changed")
        return condition_result(chunk, self.ctx)

    def _call(self, chunk: Chunk, ctx: StateContext) -> StateResult:
        try:
            func = self.registry.get(chunk.fullname)
        except UnknownStateFunction as exc:
            return StateResult(False, {}, f"State '{chunk.fullname}' was not found in SLS '{chunk.sls}'\n"
                                          f"Reason: {exc}")
        args = chunk.args if chunk.state == "file" else {k: v for k, v in chunk.args.items() if k != "check_cmd"}
        return call_state(func, ctx, args, chunk.fullname)

    def _mod_watch(self, chunk: Chunk, result: StateResult) -> StateResult:
        mod_watch = self.registry.mod_watch(chunk.state)
        if mod_watch is None:
            return result
        kwargs = {**chunk.args, "sfun": chunk.fun}
        watch = call_state(mod_watch, self.ctx, kwargs, f"{chunk.state}.mod_watch")
        return replace(watch, duration=watch.duration + result.duration)


def apply_chunks(chunks: list[Chunk], registry: StateRegistry, ctx: StateContext, *,
                 failhard: bool = False) -> StateRun:
    """Run ``chunks`` (already in run order) and return every result; ``failhard`` is the run-wide
    default a chunk's own ``failhard`` overrides."""
    return _Runner(registry, ctx, failhard).run(chunks)
