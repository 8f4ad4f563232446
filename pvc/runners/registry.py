"""The explicit registry of runner functions (``pvc runner NAME``), like the modules' registry.

A runner is a plain function whose first parameter is a
:class:`~pvc.runners.context.RunnerContext`; each runner module declares a :class:`RunnerSpec`
listing its functions, and :func:`default_registry` registers the modules named in
:data:`RUNNER_MODULES`. Nothing is discovered; unknown names and bad arguments raise before
anything runs. ``sys.doc`` and ``sys.list`` introspect the registry.

Example::

    def flush(ctx: RunnerContext, node: str, parallel: int = 2) -> dict[str, Any]:
        "Migrate every VM off ``node``."

    registry = RunnerRegistry(); registry.add(RunnerSpec("node", (flush,)))
    registry.call(ctx, "node.flush", ["hv2"], {"parallel": 4})
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pvc.runners.errors import RunnerArgumentError, UnknownRunner

# module name -> where its SPEC lives; the one list of runner modules
RUNNER_MODULES: dict[str, str] = {
    "sys": "pvc.runners.sysdoc",
    "vm": "pvc.runners.vms",
    "node": "pvc.runners.nodes",
    "state": "pvc.runners.orchestrate",
}


@dataclass(frozen=True)
class RunnerSpec:
    name: str
    functions: tuple[Callable[..., Any], ...]


@dataclass(frozen=True)
class Runner:
    fullname: str
    func: Callable[..., Any]

    @property
    def signature(self) -> inspect.Signature:
        params = list(inspect.signature(self.func).parameters.values())[1:]
        return inspect.Signature(params)

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.func) or ""


class RunnerRegistry:
    def __init__(self) -> None:
        self._runners: dict[str, Runner] = {}

    def add(self, spec: RunnerSpec) -> None:
        for func in spec.functions:
            full = f"{spec.name}.{func.__name__.rstrip('_')}"
            if full in self._runners:
                raise ValueError(f"runner {full} is registered twice")
            self._runners[full] = Runner(full, func)

    def get(self, name: str) -> Runner:
        try:
            return self._runners[name]
        except KeyError:
            module = name.partition(".")[0]
            known = sorted(n for n in self._runners if n.startswith(module + "."))
            hint = f" ({module} has: {', '.join(known)})" if known else f" (modules: {', '.join(self.modules())})"
            raise UnknownRunner(f"no runner {name!r}{hint}") from None

    def names(self) -> list[str]:
        return sorted(self._runners)

    def modules(self) -> list[str]:
        return sorted({n.partition(".")[0] for n in self._runners})

    def call(self, ctx: Any, name: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None) -> Any:
        runner = self.get(name)
        try:
            runner.signature.bind(*args, **dict(kwargs or {}))
        except TypeError as exc:
            raise RunnerArgumentError(f"{name}{runner.signature}: {exc}") from None
        return runner.func(ctx, *args, **dict(kwargs or {}))


def default_registry() -> RunnerRegistry:
    from pvc.runners import nodes, orchestrate, sysdoc, vms  # literal imports: RUNNER_MODULES names them

    registry = RunnerRegistry()
    loaded = {"pvc.runners.sysdoc": sysdoc.SPEC, "pvc.runners.vms": vms.SPEC, "pvc.runners.nodes": nodes.SPEC,
              "pvc.runners.orchestrate": orchestrate.SPEC}
    for name, module in RUNNER_MODULES.items():
        spec = loaded[module]
        if spec.name != name:
            raise ValueError(f"{module} declares runner module {spec.name!r}, listed as {name!r}")
        registry.add(spec)
    return registry
