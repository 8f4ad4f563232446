"""Call one registered function with wire arguments and turn every outcome into a ``Return``.

This is the single place where module errors meet the job system: a missing backend, a bad
argument, or a backend failure becomes ``Return(ok=False, error=...)`` with a clear message, and
an unexpected exception becomes one too (with its type) so that the minion keeps serving. Before
the call it checks, in order: the module's ``requires`` can be imported ("virt needs libvirt:
No module named 'libvirt'"), the arguments bind to the signature, and each has the type its
annotation says (:mod:`pvc.execution.arguments`). Used by the minion for every job and by
``pvc call`` for local runs.

Example::

    ret = execute(registry.get("test.echo"), ctx, ["hi"])      # Return(ok=True, data="hi", ...)
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pvc.errors import BackendUnavailable, InvalidArgument, PvcError
from pvc.execution.arguments import check_arguments
from pvc.execution.context import ExecContext
from pvc.execution.control import use_control
from pvc.execution.registry import FunctionSpec
from pvc.results import Return

log = logging.getLogger(__name__)


# how an operator gets each backend binding a module may require
INSTALL_HINTS = {
    "libvirt": "install it with: pip install 'pvc[virt]' (needs libvirt-dev), or apt install python3-libvirt",
    "rados": "install Debian's python3-rados: there is no PyPI build",
    "rbd": "install Debian's python3-rbd: there is no PyPI build",
}


def check_requires(spec: FunctionSpec) -> None:
    """Raise BackendUnavailable naming what the module ``requires`` and this host lacks (looked
    up, not imported: the module imports its backend itself, where it uses it)."""
    for name in spec.module.requires:
        if name in sys.modules:
            continue
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError) as exc:
            raise BackendUnavailable(f"{spec.module.name} needs {name}: {exc}") from None
        if not found:
            hint = INSTALL_HINTS.get(name, "")
            raise BackendUnavailable(f"{spec.module.name} needs {name}: No module named '{name}'"
                                     + (f" ({hint})" if hint else ""))


def bind(spec: FunctionSpec, args: Sequence[Any], kwargs: Mapping[str, Any]) -> inspect.BoundArguments:
    """Bind job arguments to the function (skipping the context) and check their types, or
    raise a clear :class:`InvalidArgument`."""
    try:
        bound = spec.call_signature.bind(*args, **kwargs)
    except TypeError as exc:
        names = ", ".join(_describe(p) for p in spec.call_signature.parameters.values())
        raise InvalidArgument(f"{spec.fullname}({names}): {exc}") from None
    check_arguments(spec.fullname, spec.rules, bound.arguments)
    return bound


def _describe(param: inspect.Parameter) -> str:
    """``name``, ``name=default``, ``*args`` or ``**kwargs``: what an operator can pass."""
    if param.kind is param.VAR_POSITIONAL:
        return f"*{param.name}"
    if param.kind is param.VAR_KEYWORD:
        return f"**{param.name}"
    return param.name if param.default is param.empty else f"{param.name}={param.default!r}"


def execute(spec: FunctionSpec, ctx: ExecContext, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None) -> Return:
    start = time.monotonic()
    try:
        check_requires(spec)
        if args or kwargs or not spec.argless:
            bound = bind(spec, args, kwargs or {})
            args, kwargs = bound.args, bound.kwargs
        with use_control(ctx.control):  # adapters' subprocesses attach to it (pvc.process)
            data = spec.func(ctx, *args, **(kwargs or {}))
        return Return(ok=True, data=data, duration=time.monotonic() - start)
    except PvcError as exc:
        return Return(ok=False, error=str(exc), error_type=type(exc).__name__, duration=time.monotonic() - start)
    except Exception as exc:  # a module bug must not take the minion down
        log.exception("%s raised unexpectedly", spec.fullname)
        return Return(
            ok=False,
            error=f"{spec.fullname} failed: {type(exc).__name__}: {exc}",
            error_type=type(exc).__name__,
            duration=time.monotonic() - start,
        )
