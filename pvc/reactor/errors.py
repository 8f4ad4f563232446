"""What the reactor raises at run time (a bad ``reactor:`` section is a plain ``ConfigError``)."""

from __future__ import annotations

from pvc.errors import PvcError


class ReactorError(PvcError):
    """Root of the reactor's own errors."""


class RenderError(ReactorError, ValueError):
    """An action's template failed on this event: undefined value, sandbox refusal, too long."""
