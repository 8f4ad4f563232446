"""The ``service`` module: systemd units through ``systemctl`` (the only init system pvc drives).

On a host where systemd is not running (a container, a chroot) every function fails with
:class:`~pvc.errors.BackendUnavailable` naming that, instead of a confusing systemctl error.

Example: ``pvc call service.status frr``
"""

from __future__ import annotations

import os
import re

from pvc.errors import BackendUnavailable, InvalidArgument
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec
from pvc.modules.syscmd import run_checked

UNIT = re.compile(r"^[A-Za-z0-9:_.@\\-]+$")
SYSTEMD_MARK = "/run/systemd/system"


def _systemctl(ctx: ExecContext, name: str, *verbs: str) -> list[str]:
    if not os.path.isdir(SYSTEMD_MARK):
        raise BackendUnavailable(f"service: no supported init system: systemd is not running on this host "
                                 f"({SYSTEMD_MARK} is absent); pvc manages services through systemd only")
    if not UNIT.match(name) or name.startswith("-"):
        raise InvalidArgument(f"service: {name!r} is not a unit name")
    return ["systemctl", *verbs, "--", name]


def status(ctx: ExecContext, name: str) -> bool:
    """True if unit ``name`` is active."""
    res = run_checked(ctx, _systemctl(ctx, name, "is-active", "--quiet"), "service.status", ok_codes=(0, 1, 3, 4))
    return res.retcode == 0


def enabled(ctx: ExecContext, name: str) -> bool:
    """True if unit ``name`` starts at boot."""
    res = run_checked(ctx, _systemctl(ctx, name, "is-enabled", "--quiet"), "service.enabled", ok_codes=(0, 1))
    return res.retcode == 0


def _do(ctx: ExecContext, verb: str, name: str) -> bool:
    argv = _systemctl(ctx, name, verb)
    if not ctx.test:
        run_checked(ctx, argv, f"service.{verb}")
    return True


def start(ctx: ExecContext, name: str) -> bool:
    """Start unit ``name``."""
    return _do(ctx, "start", name)


def stop(ctx: ExecContext, name: str) -> bool:
    """Stop unit ``name``."""
    return _do(ctx, "stop", name)


def restart(ctx: ExecContext, name: str) -> bool:
    """Restart unit ``name``."""
    return _do(ctx, "restart", name)


def reload_(ctx: ExecContext, name: str) -> bool:
    """Reload unit ``name``'s configuration."""
    return _do(ctx, "reload", name)


def enable(ctx: ExecContext, name: str) -> bool:
    """Start unit ``name`` at boot."""
    return _do(ctx, "enable", name)


def disable(ctx: ExecContext, name: str) -> bool:
    """Do not start unit ``name`` at boot."""
    return _do(ctx, "disable", name)


SPEC = ModuleSpec("service", functions=(status, enabled, start, stop, restart, reload_, enable, disable))
