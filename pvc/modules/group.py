"""The ``group`` module: facts and changes of local groups (``grp`` to read, shadow-utils to write).

Example: ``pvc call group.info sudo``
"""

from __future__ import annotations

import grp
from typing import Any

from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec
from pvc.modules.syscmd import run_checked
from pvc.modules.user import account_name


def info(ctx: ExecContext, name: str) -> dict[str, Any]:
    """``{name, gid, members}`` of group ``name``, or ``{}``."""
    try:
        entry = grp.getgrnam(name)
    except KeyError:
        return {}
    return {"name": entry.gr_name, "gid": entry.gr_gid, "members": sorted(entry.gr_mem)}


def add(ctx: ExecContext, name: str, gid: int | None = None, system: bool = False) -> bool:
    """Create group ``name`` (``groupadd``)."""
    if ctx.test:
        return False
    argv = ["groupadd", *(["-g", str(int(gid))] if gid is not None else []), *(["-r"] if system else [])]
    run_checked(ctx, [*argv, "--", account_name(name, "group")], "group.add")
    return True


def modify(ctx: ExecContext, name: str, gid: int | None = None, members: list[str] | None = None) -> bool:
    """Change the gid and/or the whole member list of group ``name``."""
    if ctx.test:
        return False
    if gid is not None:
        run_checked(ctx, ["groupmod", "-g", str(int(gid)), "--", account_name(name, "group")], "group.modify")
    if members is not None:
        listed = ",".join(account_name(m) for m in members)
        run_checked(ctx, ["gpasswd", "-M", listed, account_name(name, "group")], "group.modify")
    return True


def delete(ctx: ExecContext, name: str) -> bool:
    """Remove group ``name``."""
    if ctx.test or not info(ctx, name):
        return False
    run_checked(ctx, ["groupdel", "--", account_name(name, "group")], "group.delete")
    return True


SPEC = ModuleSpec("group", functions=(info, add, modify, delete), inline=("info",))
