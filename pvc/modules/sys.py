"""The ``sys`` module: what this minion can do, read from its explicit registry.

Nothing is guessed from files on disk: the answers come from the same registry that dispatches
jobs, so ``sys.list_functions`` lists exactly what ``pvc run`` can call. A selector is a module
name (``cmd``), a full function name (``cmd.run``) or a glob over full names (``cmd.run*``,
``*.list``), as in Salt.

Example: ``pvc call sys.doc cmd.run``
"""

from __future__ import annotations

import fnmatch
import inspect
from typing import Any

from pvc.errors import ExecutionError, UnknownFunction
from pvc.execution.context import ExecContext
from pvc.execution.registry import FunctionSpec, ModuleSpec, Registry

_GLOB_CHARS = frozenset("*?[")


def list_modules(ctx: ExecContext) -> list[str]:
    """Return the names of the execution modules this minion has loaded.

    Example: ``pvc run '*' sys.list_modules``
    """
    return [m.name for m in _registry(ctx).modules()]


def list_functions(ctx: ExecContext, selector: str | None = None) -> list[str]:
    """Return ``module.function`` names, all of them or those matching ``selector``.

    Example: ``pvc call sys.list_functions cmd``
    """
    return [f.fullname for f in _select(_registry(ctx), selector)]


def doc(ctx: ExecContext, selector: str | None = None) -> dict[str, str]:
    """Return the call signature and docstring of each selected function (the context is implied).

    Example: ``pvc call sys.doc test.echo`` gives
    ``{"test.echo": "test.echo(text: Any) -> Any\\n\\nReturn ``text`` unchanged ..."}``
    """
    return {f.fullname: f"{f.fullname}{_public_signature(f)}\n\n{f.doc}".rstrip()
            for f in _select(_registry(ctx), selector)}


def _registry(ctx: ExecContext) -> Registry:
    if ctx.registry is None:
        raise ExecutionError("sys: this context has no function registry")
    return ctx.registry


def _select(registry: Registry, selector: Any) -> list[FunctionSpec]:
    if selector is None:
        return registry.functions()
    if not selector:
        raise UnknownFunction("sys: give a module name, a module.function name or a glob")
    if _GLOB_CHARS.intersection(selector):
        return [f for f in registry.functions() if fnmatch.fnmatchcase(f.fullname, selector)]
    if "." in selector:
        return [registry.get(selector)]
    module: ModuleSpec = registry.module(selector)
    return registry.functions(module.name)


class _Annotation(str):
    """An annotation shown as written (``str | None``), not quoted as ``'str | None'``."""

    def __repr__(self) -> str:
        return str(self)


def _public_signature(spec: FunctionSpec) -> inspect.Signature:
    """The signature a caller sees: without the context, annotations unquoted."""
    sig = spec.call_signature
    params = [p.replace(annotation=_unquoted(p.annotation)) for p in sig.parameters.values()]
    return sig.replace(parameters=params, return_annotation=_unquoted(sig.return_annotation))


def _unquoted(annotation: Any) -> Any:
    return _Annotation(annotation) if isinstance(annotation, str) else annotation


SPEC = ModuleSpec(
    "sys",
    functions=(list_modules, list_functions, doc),
)
