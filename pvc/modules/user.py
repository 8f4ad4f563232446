"""The ``user`` module: facts and changes of local users (``pwd``/``grp`` to read, shadow-utils to write).

Names are checked against the portable user-name pattern before they reach a tool, and every
tool runs without a shell (:mod:`pvc.modules.syscmd`). ``user.info`` answers ``{}`` for a user
that does not exist, as in Salt.

Example: ``pvc call user.info root``
"""

from __future__ import annotations

import grp
import pwd
import re
from collections.abc import Sequence
from typing import Any

from pvc.errors import InvalidArgument
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec
from pvc.modules.syscmd import run_checked

NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,30}\$?$")


def account_name(name: str, what: str = "user") -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidArgument(f"{what} name {name!r} is not a valid account name (lower case, digits, _ . -)")
    return name


def _groups_of(name: str, gid: int) -> list[str]:
    found = [g.gr_name for g in grp.getgrall() if name in g.gr_mem]
    try:
        primary = grp.getgrgid(gid).gr_name
    except KeyError:
        return sorted(found)
    return sorted({primary, *found})


def info(ctx: ExecContext, name: str) -> dict[str, Any]:
    """``{name, uid, gid, home, shell, fullname, groups}`` of user ``name``, or ``{}``.

    Example: ``salt['user.info']('www-data').get('home')``
    """
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return {}
    return {
        "name": entry.pw_name, "uid": entry.pw_uid, "gid": entry.pw_gid, "home": entry.pw_dir,
        "shell": entry.pw_shell, "fullname": entry.pw_gecos.split(",")[0], "groups": _groups_of(name, entry.pw_gid),
    }


def list_groups(ctx: ExecContext, name: str) -> list[str]:
    """Every group user ``name`` belongs to (primary included)."""
    found = info(ctx, name)
    return list(found.get("groups", []))


def _account_args(uid: int | None, gid: int | str | None, home: str | None, shell: str | None,
                  fullname: str | None, groups: Sequence[str] | None) -> list[str]:
    argv: list[str] = []
    if uid is not None:
        argv += ["-u", str(int(uid))]
    if gid is not None:
        argv += ["-g", str(gid)]
    if home is not None:
        argv += ["-d", home]
    if shell is not None:
        argv += ["-s", shell]
    if fullname is not None:
        argv += ["-c", fullname]
    if groups is not None:
        argv += ["-G", ",".join(account_name(g, "group") for g in groups)]
    return argv


def add(ctx: ExecContext, name: str, uid: int | None = None, gid: int | str | None = None, home: str | None = None,
        shell: str | None = None, fullname: str | None = None, groups: list[str] | None = None,
        createhome: bool = True, system: bool = False, usergroup: bool = True) -> bool:
    """Create user ``name`` (``useradd``). Test mode: nothing runs, returns False."""
    argv = ["useradd", *_account_args(uid, gid, home, shell, fullname, groups)]
    argv += ["-m"] if createhome else ["-M"]
    argv += ["-r"] if system else []
    argv += ["-U"] if usergroup and gid is None else ["-N"] if gid is None else []
    if ctx.test:
        return False
    run_checked(ctx, [*argv, "--", account_name(name)], "user.add")
    return True


def modify(ctx: ExecContext, name: str, uid: int | None = None, gid: int | str | None = None, home: str | None = None,
           shell: str | None = None, fullname: str | None = None, groups: list[str] | None = None) -> bool:
    """Change the given attributes of user ``name`` (``usermod``; ``groups`` replaces the list)."""
    argv = _account_args(uid, gid, home, shell, fullname, groups)
    if ctx.test or not argv:
        return False
    run_checked(ctx, ["usermod", *argv, "--", account_name(name)], "user.modify")
    return True


def delete(ctx: ExecContext, name: str, remove: bool = False, force: bool = False) -> bool:
    """Remove user ``name`` (``remove``: its home and mail spool too)."""
    if ctx.test or not info(ctx, name):
        return False
    run_checked(ctx, ["userdel", *(["-r"] if remove else []), *(["-f"] if force else []), "--",
                      account_name(name)], "user.delete")
    return True


SPEC = ModuleSpec("user", functions=(info, list_groups, add, modify, delete), inline=("info", "list_groups"))
