"""The ``timezone`` module: the system time zone as Debian keeps it (``/etc/localtime`` link to
the zoneinfo file, and ``/etc/timezone``). The three paths are module options, so a test or a
chroot can point them elsewhere.

Example: ``pvc call timezone.set_zone Europe/Berlin``
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from pvc.errors import InvalidArgument
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec

ZONE = re.compile(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$")


@dataclass(frozen=True)
class TimezoneConfig:
    zoneinfo: str = "/usr/share/zoneinfo"
    localtime: str = "/etc/localtime"
    timezone_file: str = "/etc/timezone"


def _config(ctx: ExecContext) -> TimezoneConfig:
    return ctx.config if isinstance(ctx.config, TimezoneConfig) else TimezoneConfig()


def get_zone(ctx: ExecContext) -> str:
    """The zone ``/etc/localtime`` points at (e.g. ``Etc/UTC``), or the ``/etc/timezone`` text."""
    cfg = _config(ctx)
    if os.path.islink(cfg.localtime):
        target = os.path.realpath(cfg.localtime)
        base = os.path.realpath(cfg.zoneinfo)
        if target.startswith(base + os.sep):
            return os.path.relpath(target, base)
    try:
        with open(cfg.timezone_file) as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return ""


def set_zone(ctx: ExecContext, timezone: str) -> bool:
    """Point ``/etc/localtime`` at ``timezone`` and write ``/etc/timezone``; True if changed."""
    cfg = _config(ctx)
    if not ZONE.match(timezone) or ".." in timezone:
        raise InvalidArgument(f"timezone: {timezone!r} is not a zone name like Europe/Berlin")
    source = os.path.join(cfg.zoneinfo, timezone)
    if not os.path.isfile(source):
        raise InvalidArgument(f"timezone: unknown zone {timezone!r} (no {source})")
    if get_zone(ctx) == timezone and os.path.islink(cfg.localtime):
        return False
    if ctx.test:
        return True
    tmp = f"{cfg.localtime}.pvc-new"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(source, tmp)
    os.replace(tmp, cfg.localtime)
    with open(cfg.timezone_file, "w") as handle:
        handle.write(timezone + "\n")
    return True


SPEC = ModuleSpec("timezone", functions=(get_zone, set_zone), config=TimezoneConfig, inline=("get_zone",))
