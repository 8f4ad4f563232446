"""The ``test`` module: cheap functions to check that minions are alive and arguments travel."""

from __future__ import annotations

import time
from typing import Any

from pvc import __version__
from pvc.errors import InvalidArgument
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec

MAX_SLEEP = 3600.0


def ping(ctx: ExecContext) -> bool:
    """Return True. Used to see which minions are connected and executing jobs.

    Example: ``pvc run '*' test.ping``
    """
    return True


def echo(ctx: ExecContext, text: Any) -> Any:
    """Return ``text`` unchanged (any JSON-able value), to check that arguments round-trip.

    Example: ``pvc run web1 test.echo 'hello world'``
    """
    return text


def sleep(ctx: ExecContext, length: float) -> bool:
    """Sleep ``length`` seconds (0..3600), then return True. Useful to test timeouts.

    Example: ``pvc run '*' test.sleep 2``
    """
    if not 0 <= length <= MAX_SLEEP:
        raise InvalidArgument(f"test.sleep: length must be a number of seconds between 0 and {MAX_SLEEP:g}")
    time.sleep(length)
    return True


def version(ctx: ExecContext) -> str:
    """Return the pvc version this minion runs.

    Example: ``pvc run '*' test.version``
    """
    return __version__


def arg(ctx: ExecContext, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Return the positional and keyword arguments as received, with their types.

    Example: ``pvc run web1 test.arg 1 two three=3`` returns
    ``{"args": [1, "two"], "kwargs": {"three": 3}, "types": [...]}``
    """
    return {
        "args": list(args),
        "kwargs": dict(kwargs),
        "types": [type(a).__name__ for a in args],
    }


SPEC = ModuleSpec(
    "test",
    functions=(ping, echo, sleep, version, arg),
    inline=("ping", "echo", "version", "arg"),
)
