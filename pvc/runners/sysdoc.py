"""``sys.doc`` and ``sys.list``: what runners exist and how to call them."""

from __future__ import annotations

from pvc.runners.context import RunnerContext
from pvc.runners.registry import RunnerSpec


def doc(ctx: RunnerContext, name: str = "") -> dict[str, str]:
    """Each runner (or those of one module, or one runner) with its signature and docstring.

    Example: ``pvc runner sys.doc node``
    """
    assert ctx.registry is not None
    names = [n for n in ctx.registry.names() if not name or n == name or n.startswith(name + ".")]
    if name and not names:
        ctx.registry.get(name)  # raises UnknownRunner with the known names
    return {n: f"{n}{ctx.registry.get(n).signature}\n\n{ctx.registry.get(n).doc}" for n in names}


def list_(ctx: RunnerContext) -> list[str]:
    """Every runner name. Example: ``pvc runner sys.list``"""
    assert ctx.registry is not None
    return ctx.registry.names()


SPEC = RunnerSpec("sys", (doc, list_))
