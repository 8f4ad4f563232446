"""``service.running``/``dead``/``enabled``/``disabled`` through the ``service`` module (systemd).

Where systemd is not running, each fails with the module's message naming the missing init
system. ``watch`` restarts a running service (``mod_watch``).

Example (SLS)::

    frr:
      service.running:
        - enable: True
        - watch:
          - file: /etc/frr/frr.conf
"""

from __future__ import annotations

from typing import Any

from pvc.states.context import StateContext
from pvc.states.registry import StateModule
from pvc.states.result import StateResult


def _enable(ctx: StateContext, name: str, enable: bool | None, changes: dict[str, Any]) -> list[str]:
    """Plan (and, outside test mode, do) the boot-time change; returns the apply steps' names."""
    if enable is None or bool(ctx.call("service.enabled", name)) == enable:
        return []
    changes["enable"] = enable
    return ["enable" if enable else "disable"]


def _converge(ctx: StateContext, name: str, want_running: bool, enable: bool | None) -> StateResult:
    changes: dict[str, Any] = {}
    steps = _enable(ctx, name, enable, changes)
    if bool(ctx.call("service.status", name)) != want_running:
        changes[name] = want_running
        steps.insert(0, "start" if want_running else "stop")

    def apply() -> None:
        for step in steps:
            ctx.call(f"service.{step}", name)

    state = "running" if want_running else "dead"
    result = ctx.plan(changes, apply, comment=f"Service {name} is {state}",
                      unchanged=f"The service {name} is already {state}",
                      test_comment=f"Service {name} is set to be {state}")
    if result.result and changes.get(name) is not None and bool(ctx.call("service.status", name)) != want_running:
        return StateResult(False, changes, f"Service {name} failed to become {state}")
    return result


def running(ctx: StateContext, name: str, enable: bool | None = None, reload: bool = False) -> StateResult:
    """Ensure the service runs (and starts at boot with ``enable: True``); ``reload: True``
    makes a ``watch`` reload it instead of restarting it."""
    return _converge(ctx, name, True, enable)


def dead(ctx: StateContext, name: str, enable: bool | None = None) -> StateResult:
    """Ensure the service is stopped (and does not start at boot with ``enable: False``)."""
    return _converge(ctx, name, False, enable)


def _boot(ctx: StateContext, name: str, enable: bool) -> StateResult:
    changes: dict[str, Any] = {}
    steps = _enable(ctx, name, enable, changes)
    word = "enabled" if enable else "disabled"
    return ctx.plan(changes, lambda: [ctx.call(f"service.{s}", name) for s in steps],
                    comment=f"Service {name} has been {word}", unchanged=f"Service {name} is already {word}",
                    test_comment=f"Service {name} set to be {word}")


def enabled(ctx: StateContext, name: str) -> StateResult:
    """Ensure the service starts at boot."""
    return _boot(ctx, name, True)


def disabled(ctx: StateContext, name: str) -> StateResult:
    """Ensure the service does not start at boot."""
    return _boot(ctx, name, False)


def mod_watch(ctx: StateContext, name: str, sfun: str = "", reload: bool = False, **kwargs: Any) -> StateResult:
    """A watched state changed: restart (or reload) a running service; start a stopped one."""
    if sfun != "running":
        return StateResult(True, {}, f"Service {name}: nothing to do on watch for service.{sfun}")
    verb = ("reload" if reload else "restart") if ctx.call("service.status", name) else "start"
    return ctx.plan({name: True}, lambda: ctx.call(f"service.{verb}", name), comment=f"Service {name} {verb}ed",
                    test_comment=f"Service {name} is set to be {verb}ed")


MODULE = StateModule("service", functions=(running, dead, enabled, disabled), mod_watch=mod_watch)
