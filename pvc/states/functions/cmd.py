"""``cmd.run`` and ``cmd.wait``: run a shell command as a state.

``cmd.run`` runs every time (guard it with ``creates``/``unless``/``onlyif`` or ``onchanges``);
it succeeds when the command exits 0 and reports ``pid``/``retcode``/``stdout``/``stderr`` as
its changes. ``cmd.wait`` runs only when a state it ``watch``es changed (``mod_watch``).

Example (SLS)::

    update-grub:
      cmd.wait:
        - watch:
          - file: /etc/default/grub
"""

from __future__ import annotations

from typing import Any

from pvc.states.context import StateContext
from pvc.states.registry import StateModule
from pvc.states.result import StateResult


def run(ctx: StateContext, name: str, cwd: str | None = None, runas: str | None = None,
        env: dict[str, Any] | None = None, timeout: float | None = None, stdin: str | None = None,
        python_shell: bool = True) -> StateResult:
    """Run command ``name`` (through the shell, as Salt's state does)."""
    if ctx.test:
        return StateResult(None, {}, f'Command "{name}" would have been executed')
    kwargs = {"cwd": cwd, "runas": runas, "env": env, "timeout": timeout, "stdin": stdin, "python_shell": python_shell}
    ret = ctx.call("cmd.run_all", name, **{k: v for k, v in kwargs.items() if v is not None})
    ok = ret["retcode"] == 0
    return StateResult(ok, dict(ret), f'Command "{name}" run' if ok else f'Command "{name}" failed '
                       f'with exit code {ret["retcode"]}')


def wait(ctx: StateContext, name: str, **kwargs: Any) -> StateResult:
    """Do nothing by itself; run ``name`` when a watched state changes."""
    return StateResult(True, {}, "")


def mod_watch(ctx: StateContext, name: str, sfun: str = "", **kwargs: Any) -> StateResult:
    accepted = {k: v for k, v in kwargs.items() if k in ("cwd", "runas", "env", "timeout", "stdin", "python_shell")}
    return run(ctx, name, **accepted)


MODULE = StateModule("cmd", functions=(run, wait), mod_watch=mod_watch)
