"""``sysctl.present``: a kernel parameter set now and kept in a ``sysctl.d`` file.

Example (SLS)::

    net.ipv4.ip_forward:
      sysctl.present:
        - value: 1
"""

from __future__ import annotations

from typing import Any

from pvc.states.context import StateContext
from pvc.states.registry import StateModule
from pvc.states.result import StateResult

DEFAULT_CONFIG = "/etc/sysctl.d/99-salt.conf"


def present(ctx: StateContext, name: str, value: Any, config: str = DEFAULT_CONFIG) -> StateResult:
    """Ensure parameter ``name`` is ``value`` now and in ``config``."""
    want = " ".join(str(value).split())
    current = ctx.call("sysctl.get", name)
    if current == "":
        return StateResult(False, {}, f"Failed to set {name} to {want}: the kernel has no such parameter")
    changes: dict[str, Any] = {}
    if current != want:
        changes[name] = want
    if ctx.call("sysctl.persisted", name, config=config) != want:
        changes["config"] = config

    def apply() -> None:
        if name in changes:
            ctx.call("sysctl.assign", name, want)
        if "config" in changes:
            ctx.call("sysctl.persist", name, want, config=config)

    return ctx.plan(changes, apply, comment=f"Updated sysctl value {name} = {want}",
                    unchanged=f"Sysctl value {name} = {want} is already set",
                    test_comment=f"Sysctl option {name} set to be changed to {want}")


MODULE = StateModule("sysctl", functions=(present,))
