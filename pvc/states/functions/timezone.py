"""``timezone.system``: the host's time zone.

Example (SLS)::

    Europe/Berlin:
      timezone.system
"""

from __future__ import annotations

from pvc.states.context import StateContext
from pvc.states.registry import StateModule
from pvc.states.result import StateResult


def system(ctx: StateContext, name: str, utc: bool = True) -> StateResult:
    """Ensure the system time zone is ``name`` (the hardware clock is left to the host: UTC)."""
    current = ctx.call("timezone.get_zone")
    changes = {} if current == name else {"timezone": name}
    return ctx.plan(changes, lambda: ctx.call("timezone.set_zone", name),
                    comment=f"Set timezone {name}", unchanged=f"Timezone {name} already set",
                    test_comment=f"Timezone {name} needs to be set")


MODULE = StateModule("timezone", functions=(system,))
