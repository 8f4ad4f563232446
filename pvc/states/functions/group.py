"""``group.present``/``group.absent`` through the ``group`` module.

``members`` is the complete member list; ``addusers``/``delusers`` change it incrementally.

Example (SLS)::

    pvcadm:
      group.present:
        - gid: 3001
        - addusers: [alice]
"""

from __future__ import annotations

from typing import Any

from pvc.states.context import StateContext
from pvc.states.registry import StateModule
from pvc.states.result import StateResult


def present(ctx: StateContext, name: str, gid: int | None = None, system: bool = False,
            members: list[str] | None = None, addusers: list[str] | None = None,
            delusers: list[str] | None = None) -> StateResult:
    """Ensure group ``name`` exists with this gid and membership."""
    info = ctx.call("group.info", name)
    have = sorted(info.get("members", [])) if info else []
    want = sorted(members) if members is not None else sorted({*have, *(addusers or [])} - set(delusers or []))
    changes: dict[str, Any] = {}
    if not info:
        changes = {"name": name, **({"gid": gid} if gid is not None else {})}
    elif gid is not None and info["gid"] != gid:
        changes["gid"] = gid
    if want != have:
        changes["members"] = want

    def apply() -> None:
        if not info:
            ctx.call("group.add", name, gid=gid, system=system)
        elif "gid" in changes:
            ctx.call("group.modify", name, gid=gid)
        if "members" in changes:
            ctx.call("group.modify", name, members=want)

    return ctx.plan(changes, apply, comment=f"Group {name} {'created' if not info else 'updated'}",
                    unchanged=f"Group {name} is present and up to date",
                    test_comment=f"Group {name} set to be {'added' if not info else 'changed'}")


def absent(ctx: StateContext, name: str) -> StateResult:
    """Ensure group ``name`` does not exist."""
    if not ctx.call("group.info", name):
        return StateResult(True, {}, f"Group not present: {name}")
    return ctx.plan({name: "removed"}, lambda: ctx.call("group.delete", name), comment=f"Removed group {name}",
                    test_comment=f"Group {name} is set for removal")


MODULE = StateModule("group", functions=(present, absent))
