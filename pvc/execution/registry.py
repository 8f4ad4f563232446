"""The explicit registry of execution-module functions.

Nothing is discovered by scanning files or injected into module globals (Salt's loader did both,
and its users paid with leaks and races). Each module file declares one :class:`ModuleSpec`
listing its functions; :func:`pvc.modules.default_registry` imports the modules named in
``pvc.modules.MODULES`` and registers their specs. Unknown or duplicate names raise. Argument
rules are compiled from each function's annotations when it is registered
(:mod:`pvc.execution.arguments`), so a function the executor cannot check never registers.

Example::

    def ping(ctx: ExecContext) -> bool:
        "Answer True: the minion is alive and executing jobs."
        return True

    SPEC = ModuleSpec("test", functions=(ping,))
    registry = Registry(); registry.add(SPEC)
    registry.get("test.ping")
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pvc.errors import PvcError, UnknownFunction
from pvc.execution.arguments import ParamRule, compile_rules


@dataclass(frozen=True)
class ModuleSpec:
    """What one execution module offers.

    ``inline`` names functions that are cheap and never block (``test.ping``): the minion runs
    them on its I/O thread instead of handing them to the worker pool, which saves two thread
    switches per job. ``requires`` names the Python modules the functions need ("libvirt",
    "rados", ...); the module stays registered when they are absent, and the executor fails
    each call before it starts with ``BackendUnavailable("virt needs libvirt: ...")``.
    ``config`` is a frozen dataclass validated from the minion config section named like the
    module. ``start`` is an optional hook the minion runs once at start-up (e.g. to register a
    libvirt event loop); it receives the module's context and returns something with ``close()``
    or ``None``.
    """

    name: str
    functions: tuple[Callable[..., Any], ...]
    requires: tuple[str, ...] = ()
    config: type | None = None
    start: Callable[..., Any] | None = None
    inline: tuple[str, ...] = ()


@dataclass(frozen=True)
class FunctionSpec:
    """One registered function, addressed as ``module.function``. ``call_signature`` is the
    signature without the context (what a job binds to); ``rules`` check its arguments."""

    module: ModuleSpec
    name: str
    func: Callable[..., Any]
    signature: inspect.Signature = field(compare=False)
    call_signature: inspect.Signature = field(compare=False)
    rules: dict[str, ParamRule] = field(compare=False)
    # every parameter has a default: a call without arguments binds to nothing (test.ping to a
    # 10,000-identity swarm skips 10,000 Signature.bind calls)
    argless: bool = field(default=False, compare=False)

    @classmethod
    def of(cls, module: ModuleSpec, name: str, func: Callable[..., Any]) -> FunctionSpec:
        signature = inspect.signature(func)
        params = list(signature.parameters.values())[1:]
        try:
            rules = compile_rules(func, params)
        except (TypeError, NameError) as exc:
            raise TypeError(f"{module.name}.{name}: {exc}") from None
        argless = all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)
        return cls(module, name, func, signature, signature.replace(parameters=params), rules, argless)

    @property
    def fullname(self) -> str:
        return f"{self.module.name}.{self.name}"

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.func) or ""

    @property
    def inline(self) -> bool:
        return self.name in self.module.inline


class DuplicateName(PvcError, KeyError):
    """A module or function name is registered twice."""


class Registry:
    """Owns the set of callable functions of one minion (or of ``pvc call``).

    Modules are *declared* by name with a loader and imported on first use, so an idle minion
    only carries the modules it has actually run (each backend wrapper and its templates cost
    memory on every node). The list of names is still explicit; nothing is discovered.
    """

    def __init__(self) -> None:
        self._modules: dict[str, ModuleSpec] = {}
        self._functions: dict[str, FunctionSpec] = {}
        self._loaders: dict[str, Callable[[], ModuleSpec]] = {}
        self._lock = threading.RLock()

    def declare(self, name: str, loader: Callable[[], ModuleSpec]) -> None:
        """Register module ``name``, to be loaded by ``loader`` when first needed."""
        if name in self._modules or name in self._loaders:
            raise DuplicateName(f"module '{name}' is registered twice")
        self._loaders[name] = loader

    def names(self) -> list[str]:
        """Every module name, loaded or not (does not load anything)."""
        return sorted({*self._modules, *self._loaders})

    def loaded(self) -> list[ModuleSpec]:
        return sorted(self._modules.values(), key=lambda m: m.name)

    def _load(self, name: str) -> None:
        with self._lock:
            loader = self._loaders.pop(name, None)
            if loader is not None:
                self.add(loader())

    def add(self, spec: ModuleSpec) -> None:
        with self._lock:
            if spec.name in self._modules:
                raise DuplicateName(f"module '{spec.name}' is registered twice")
            functions = {}
            for func in spec.functions:
                name = func.__name__.rstrip("_")  # list_ -> list: lets modules avoid shadowing builtins
                full = f"{spec.name}.{name}"
                if full in functions or full in self._functions:
                    raise DuplicateName(f"function '{full}' is registered twice")
                functions[full] = FunctionSpec.of(spec, name, func)
            unknown = set(spec.inline) - {f.name for f in functions.values()}
            if unknown:
                raise UnknownFunction(f"module '{spec.name}': inline names unknown functions {sorted(unknown)}")
            self._functions.update(functions)
            self._modules[spec.name] = spec

    def get(self, fullname: str) -> FunctionSpec:
        found = self._functions.get(fullname)
        if found is not None:
            return found
        module, _, function = fullname.partition(".")
        self._load(module)
        if fullname in self._functions:
            return self._functions[fullname]
        if module not in self._modules:
            raise UnknownFunction(f"'{fullname}' is not available: no module named '{module}'")
        raise UnknownFunction(f"'{fullname}' is not available: module '{module}' has no function '{function}'")

    def module(self, name: str) -> ModuleSpec:
        self._load(name)
        try:
            return self._modules[name]
        except KeyError:
            raise UnknownFunction(f"no module named '{name}'") from None

    def modules(self) -> list[ModuleSpec]:
        for name in list(self._loaders):
            self._load(name)
        return self.loaded()

    def functions(self, module: str | None = None) -> list[FunctionSpec]:
        if module is None:
            self.modules()
        else:
            self._load(module)
        return [f for n, f in sorted(self._functions.items()) if module is None or f.module.name == module]
