"""Call one registered function with wire arguments and turn every outcome into a ``Return``.

This is the single place where module errors meet the job system: a bad argument, an unknown
function or a backend failure becomes ``Return(ok=False, error=...)`` with a clear message, and
an unexpected exception becomes one too (with its type) so that the minion keeps serving. Used
by the minion for every job and by ``pvc call`` for local runs.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pvc.errors import InvalidArgument, PvcError
from pvc.modules.context import ExecContext
from pvc.modules.registry import FunctionSpec
from pvc.results import Return

log = logging.getLogger(__name__)


def bind(spec: FunctionSpec, args: Sequence[Any], kwargs: Mapping[str, Any]) -> inspect.BoundArguments:
    """Bind job arguments to the function (skipping the context) or raise a clear error."""
    params = list(spec.signature.parameters.values())[1:]
    sig = spec.signature.replace(parameters=params)
    try:
        return sig.bind(*args, **kwargs)
    except TypeError as exc:
        names = ", ".join(_describe(p) for p in params)
        raise InvalidArgument(f"{spec.fullname}({names}): {exc}") from None


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
        bound = bind(spec, args, kwargs or {})
        data = spec.func(ctx, *bound.args, **bound.kwargs)
        return Return(ok=True, data=data, duration=time.monotonic() - start)
    except PvcError as exc:
        return Return(ok=False, error=str(exc), error_type=type(exc).__name__, duration=time.monotonic() - start)
    except Exception as exc:  # noqa: BLE001 - a module bug must not take the minion down
        log.exception("%s raised unexpectedly", spec.fullname)
        return Return(
            ok=False,
            error=f"{spec.fullname} failed: {type(exc).__name__}: {exc}",
            error_type=type(exc).__name__,
            duration=time.monotonic() - start,
        )
