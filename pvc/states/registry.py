"""The explicit registry of state functions (``file.managed``, ``test.succeed_with_changes``...).

Like the execution registry: nothing is discovered; a module declares a :class:`StateModule` and
unknown or duplicate names raise. ``mod_watch`` is the module's reaction to a ``watch`` that saw
changes (restart a service...).

Example::

    registry = StateRegistry([StateModule("test", functions=(succeed_with_changes,))])
    registry.get("test.succeed_with_changes")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pvc.states.errors import StateError


class UnknownStateFunction(StateError, LookupError):
    """No state module or function by that name."""


@dataclass(frozen=True)
class StateModule:
    name: str
    functions: tuple[Callable[..., Any], ...]
    mod_watch: Callable[..., Any] | None = None


class StateRegistry:
    def __init__(self, modules: Iterable[StateModule] = ()) -> None:
        self._modules: dict[str, StateModule] = {}
        self._functions: dict[str, Callable[..., Any]] = {}
        for module in modules:
            self.add(module)

    def add(self, module: StateModule) -> None:
        if module.name in self._modules:
            raise StateError(f"state module '{module.name}' is registered twice")
        functions = {}
        for func in module.functions:
            full = f"{module.name}.{func.__name__.rstrip('_')}"
            if full in functions:
                raise StateError(f"state function '{full}' is registered twice")
            functions[full] = func
        self._modules[module.name] = module
        self._functions.update(functions)

    def get(self, fullname: str) -> Callable[..., Any]:
        try:
            return self._functions[fullname]
        except KeyError:
            module = fullname.partition(".")[0]
            why = f"module '{module}' has no such function" if module in self._modules else \
                f"no state module named '{module}'"
            raise UnknownStateFunction(f"State function '{fullname}' is not available: {why}") from None

    def mod_watch(self, module: str) -> Callable[..., Any] | None:
        found = self._modules.get(module)
        return found.mod_watch if found else None

    def names(self) -> list[str]:
        return sorted(self._functions)
