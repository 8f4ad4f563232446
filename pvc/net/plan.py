"""Plans: the changes a ``*_present``/``*_absent`` call would make, computed from facts first.

Computing the plan and applying it are separate steps, so a dry run (``test=True``) is the same
code path minus the apply, and "nothing to do" is simply an empty plan.

Example::

    with netlink(None) as ipr:
        changes = [Change("create bridge br0", lambda i: i.link("add", ifname="br0", kind="bridge"))]
        run_plan(ipr, changes, test=False, subject="bridge br0")
        # {"changed": True, "changes": ["create bridge br0"], "comment": "create bridge br0"}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pvc.net.handle import raise_netlink


@dataclass(frozen=True)
class Change:
    """One netlink step: what it does (for the operator) and how (given an ``IPRoute``)."""

    description: str
    apply: Callable[[Any], object]


def run_plan(ipr: Any, changes: Sequence[Change], test: bool, subject: str) -> dict[str, Any]:
    """Apply ``changes`` in order (or only describe them when ``test``) and say what happened."""
    from pyroute2.netlink.exceptions import NetlinkError

    done = [c.description for c in changes]
    if not changes:
        return {"changed": False, "changes": [], "comment": f"{subject} is already in the wanted state; nothing changed"}
    if test:
        return {"changed": False, "test": True, "changes": done, "comment": "would " + "; ".join(done)}
    for change in changes:
        try:
            change.apply(ipr)
        except NetlinkError as exc:
            raise_netlink(exc, change.description)
    return {"changed": True, "changes": done, "comment": "; ".join(done)}
