"""The ``log`` module: templates write to the minion's log (``{% do salt.log.info('x') %}``)."""

from __future__ import annotations

import logging
from typing import Any

from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec


def _log(ctx: ExecContext, level: int, message: Any, args: tuple[Any, ...]) -> None:
    ctx.log.log(level, str(message), *args)


def debug(ctx: ExecContext, message: Any, *args: Any) -> None:
    """Log ``message`` (``%s`` placeholders filled from ``args``) at debug level."""
    _log(ctx, logging.DEBUG, message, args)


def info(ctx: ExecContext, message: Any, *args: Any) -> None:
    """Log at info level."""
    _log(ctx, logging.INFO, message, args)


def warning(ctx: ExecContext, message: Any, *args: Any) -> None:
    """Log at warning level."""
    _log(ctx, logging.WARNING, message, args)


def error(ctx: ExecContext, message: Any, *args: Any) -> None:
    """Log at error level."""
    _log(ctx, logging.ERROR, message, args)


SPEC = ModuleSpec("log", functions=(debug, info, warning, error), inline=("debug", "info", "warning", "error"))
