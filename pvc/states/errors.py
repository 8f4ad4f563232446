"""Typed errors of the state engine, rooted at :class:`pvc.errors.PvcError`.

Rendering and compiling fail loudly with the SLS (and line) at fault; running never raises for
one bad state: its failure becomes that state's ``StateResult(result=False)``.

Example::

    try:
        render_sls("a: {{ x", sls="web.nginx", ctx=RenderContext())
    except RenderError as err:
        print(err.sls, err.line)        # web.nginx 1
"""

from __future__ import annotations

from pvc.errors import PvcError


class StateError(PvcError):
    """Root of everything the state engine raises on purpose."""


class RenderError(StateError, ValueError):
    """Jinja or YAML could not turn an SLS into data; names the SLS and, when known, the line."""

    def __init__(self, sls: str, message: str, line: int | None = None) -> None:
        where = f"{sls}, line {line}" if line is not None else sls
        super().__init__(f"Rendering SLS '{where}' failed: {message}")
        self.sls = sls
        self.line = line
        self.reason = message


class CompileError(StateError, ValueError):
    """The high data has the wrong shape (no function, two functions, bad include/extend...).

    ``errors`` lists every problem found, Salt-style, so an operator fixes them in one pass."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = tuple(errors)


class RequisiteCycle(CompileError):
    """States require each other in a loop; ``cycle`` lists the tags, first repeated last."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__([f"Recursive requisite found: {' -> '.join(cycle)}"])
        self.cycle = tuple(cycle)


class SlsNotFound(StateError, LookupError):
    """An SLS named by the caller or by an ``include`` does not exist."""
