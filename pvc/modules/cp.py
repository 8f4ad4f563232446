"""The ``cp`` module: what the master's state tree holds (read over the minion's sealed channel).

Example (Jinja): ``{% if 'ntp/files' in salt['cp.list_master_dirs']() %}``
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvc.errors import BackendUnavailable
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec

if TYPE_CHECKING:
    from pvc.states.fileclient import RemoteTree


def _remote(ctx: ExecContext, saltenv: str, fun: str) -> RemoteTree:
    from pvc.states.fileclient import RemoteTree

    if ctx.master is None:
        raise BackendUnavailable(f"cp.{fun} reads the master's state tree, and this call has no master "
                                 "(pvc call runs without one)")
    return RemoteTree(ctx.master, saltenv)


def list_master_dirs(ctx: ExecContext, saltenv: str = "base", prefix: str = "") -> list[str]:
    """Every directory of the master's ``file_roots`` (under ``prefix``), as tree paths."""
    return _remote(ctx, saltenv, "list_master_dirs").listing(prefix, dirs=True)


def list_master(ctx: ExecContext, saltenv: str = "base", prefix: str = "") -> list[str]:
    """Every file of the master's ``file_roots`` (under ``prefix``), as tree paths."""
    return _remote(ctx, saltenv, "list_master").listing(prefix, dirs=False)


SPEC = ModuleSpec("cp", functions=(list_master_dirs, list_master))
