"""``user.present``/``user.absent`` through the ``user`` module (shadow-utils).

``present`` compares each given attribute with ``user.info`` and changes only what differs;
``groups`` is the complete list of supplementary groups unless ``remove_groups: False``, then
missing ones are added and others kept. ``optional_groups`` are joined only where they exist.

Example (SLS)::

    alice:
      user.present:
        - uid: 2001
        - shell: /bin/bash
        - groups: [sudo, libvirt]
"""

from __future__ import annotations

import grp
from typing import Any

from pvc.states.context import StateContext
from pvc.states.registry import StateModule
from pvc.states.result import StateResult


def _gid(group: Any) -> int | None:
    if group is None:
        return None
    if str(group).isdigit():
        return int(group)
    try:
        return grp.getgrnam(str(group)).gr_gid
    except KeyError:
        return None


def _groups(ctx: StateContext, groups: list[str] | None, optional_groups: list[str] | None) -> list[str] | None:
    if groups is None and optional_groups is None:
        return None
    present = [g for g in optional_groups or [] if ctx.call("group.info", g)]
    return sorted({*(groups or []), *present})


def present(ctx: StateContext, name: str, uid: int | None = None, gid: Any = None, groups: list[str] | None = None,
            optional_groups: list[str] | None = None, remove_groups: bool = True, home: str | None = None,
            shell: str | None = None, fullname: str | None = None, createhome: bool = True,
            system: bool = False, usergroup: bool = True) -> StateResult:
    """Ensure user ``name`` exists with these attributes."""
    info = ctx.call("user.info", name)
    wanted_groups = _groups(ctx, groups, optional_groups)
    if not info:
        new = {k: v for k, v in {"name": name, "uid": uid, "gid": gid, "groups": wanted_groups, "home": home,
                                     "shell": shell, "fullname": fullname}.items() if v is not None}
        return ctx.plan(new, lambda: ctx.call(
            "user.add", name, uid=uid, gid=gid, home=home, shell=shell, fullname=fullname, groups=wanted_groups,
            createhome=createhome, system=system, usergroup=usergroup),
            comment=f"New user {name} created", test_comment=f"User {name} set to be added")
    changes: dict[str, Any] = {}
    for key, want, have in (("uid", uid, info["uid"]), ("home", home, info["home"]), ("shell", shell, info["shell"]),
                            ("fullname", fullname, info["fullname"])):
        if want is not None and want != have:
            changes[key] = want
    if gid is not None and _gid(gid) != info["gid"]:
        changes["gid"] = gid
    primary = grp.getgrgid(info["gid"]).gr_name if _gid(info["gid"]) is not None else ""
    current = sorted(set(info["groups"]) - {primary})
    if wanted_groups is not None:
        target = sorted(set(wanted_groups) - {primary}) if remove_groups else sorted({*current, *wanted_groups} - {primary})
        if target != current:
            changes["groups"] = target
    return ctx.plan(changes, lambda: ctx.call("user.modify", name, **changes),
                    comment=f"Updated user {name}", unchanged=f"User {name} is present and up to date",
                    test_comment=f"User {name} set to be changed")


def absent(ctx: StateContext, name: str, purge: bool = False, force: bool = False) -> StateResult:
    """Ensure user ``name`` does not exist (``purge``: remove its home too)."""
    if not ctx.call("user.info", name):
        return StateResult(True, {}, f"User {name} is not present")
    return ctx.plan({name: "removed"}, lambda: ctx.call("user.delete", name, remove=purge, force=force),
                    comment=f"Removed user {name}", test_comment=f"User {name} set for removal")


MODULE = StateModule("user", functions=(present, absent))
