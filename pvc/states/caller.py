"""How states and templates call execution functions: the :class:`ExecCaller` protocol.

A template's ``salt['pillar.get']('x')`` and a state function such as ``network.bridge`` both go
through an ``ExecCaller``, never through module globals. :class:`RegistryCaller` runs the
minion's own registry (the same executor, argument checks and typed context as a job), with the
run's pillar attached to each context, and turns a failed call into :class:`ExecFunctionFailed`
so the state (or render) that made it fails with the function's message.

Example::

    funcs = MinionFunctions(config, grains=grains)
    caller = RegistryCaller(funcs.registry, lambda mod, test: funcs.context(mod, test=test), pillar)
    caller.call("grains.get", ["os"])            # 'Debian'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from pvc.errors import UnknownFunction
from pvc.execution.context import ExecContext
from pvc.execution.control import KILLED_BY_OPERATOR, JobControl, JobKilled
from pvc.execution.executor import execute
from pvc.execution.registry import Registry
from pvc.states.errors import StateError


class ExecFunctionFailed(StateError):
    """An execution function called by a state or a template returned an error."""


class ExecCaller(Protocol):
    def call(self, fun: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None, *,
             test: bool = False) -> Any:
        """Run ``fun`` (``mod.fun``) and return its data, or raise :class:`ExecFunctionFailed`."""

    def has(self, name: str) -> bool:
        """Whether ``name`` is a callable ``mod.fun``, or (without a dot) a module."""


# the execution context for one module: (module name, test flag) -> ExecContext
ContextFactory = Callable[[str, bool], ExecContext]


@contextmanager
def nested_control(job: JobControl) -> Iterator[JobControl]:
    """A control for one call made inside a job (a state's ``cmd.run``): its own limit
    (``timeout: 5``) bounds that call only and never moves the job's deadline, while ending the
    job (a kill, the job's deadline) ends the call's processes too."""
    call = JobControl(job.jid, "", None, job.grace)

    def end_call() -> None:
        call.cancel(job.error or JobKilled(KILLED_BY_OPERATOR))

    token = job.attach(end_call)
    if token is None:
        job.check()
    try:
        yield call
    finally:
        job.detach(token)


class RegistryCaller:
    """An :class:`ExecCaller` over an execution :class:`Registry` (the minion's, or ``pvc call``'s)."""

    def __init__(self, registry: Registry, context: ContextFactory, pillar: Mapping[str, Any] | None = None) -> None:
        self.registry = registry
        self.context = context
        self.pillar: Mapping[str, Any] = pillar or {}

    def has(self, name: str) -> bool:
        if "." not in name:
            return name in self.registry.names()
        try:
            self.registry.get(name)
        except UnknownFunction:
            return False
        return True

    def call(self, fun: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None, *,
             test: bool = False) -> Any:
        try:
            spec = self.registry.get(fun)
        except UnknownFunction as exc:
            raise ExecFunctionFailed(str(exc)) from None
        ctx = self.context(spec.module.name, test)
        with nested_control(ctx.control) as control:
            ret = execute(spec, dataclasses.replace(ctx, pillar=self.pillar, control=control), list(args),
                          dict(kwargs or {}))
        if not ret.ok:
            raise ExecFunctionFailed(f"{fun}: {ret.error}")
        return ret.data
