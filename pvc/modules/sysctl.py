"""The ``sysctl`` module: kernel parameters read and written through ``/proc/sys``.

A name is dotted (``net.ipv4.ip_forward``); a ``/`` inside a component (a VLAN interface
``eth0.100`` is written ``eth0/100``) maps to a dot in the path, as ``sysctl(8)`` does.
``persist`` keeps one ``name = value`` line per parameter in a ``sysctl.d`` file so that the
value survives a reboot. Writes go to the network namespace the minion runs in.

Example: ``pvc call sysctl.assign net.ipv4.ip_forward 1``
"""

from __future__ import annotations

import os
import re
import tempfile

from pvc.errors import ExecutionError, InvalidArgument
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec

NAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_/:-]+)+$")
PROC = "/proc/sys"
DEFAULT_CONFIG = "/etc/sysctl.d/99-salt.conf"


def _path(name: str) -> str:
    parts = [part.replace("/", ".") for part in name.split(".")] if isinstance(name, str) else []
    if not NAME.match(name) or any(part.strip(".") != part for part in parts):
        raise InvalidArgument(f"sysctl: {name!r} is not a kernel parameter name (like net.ipv4.ip_forward)")
    return os.path.join(PROC, *parts)


def normalize(value: object) -> str:
    """Whitespace-separated fields as sysctl prints them (``'4096  87380'`` -> ``'4096 87380'``)."""
    return " ".join(str(value).split())


def get(ctx: ExecContext, name: str) -> str:
    """The current value of ``name`` ('' if the kernel has no such parameter)."""
    try:
        with open(_path(name)) as handle:
            return normalize(handle.read())
    except FileNotFoundError:
        return ""


def assign(ctx: ExecContext, name: str, value: str | int) -> dict[str, str]:
    """Set ``name`` to ``value`` now; returns ``{name: new value}``."""
    path = _path(name)
    if not os.path.exists(path):
        raise ExecutionError(f"sysctl: the kernel has no parameter {name} (no {path})")
    if ctx.test:
        return {name: normalize(value)}
    try:
        with open(path, "w") as handle:
            handle.write(normalize(value))
    except OSError as exc:
        raise ExecutionError(f"sysctl: cannot set {name} to {value!r}: {exc.strerror}") from None
    return {name: get(ctx, name)}


def persisted(ctx: ExecContext, name: str, config: str = DEFAULT_CONFIG) -> str | None:
    """The value ``config`` sets for ``name``, or None."""
    _path(name)
    for key, value in _entries(config):
        if key == name:
            return value
    return None


def persist(ctx: ExecContext, name: str, value: str | int, config: str = DEFAULT_CONFIG) -> bool:
    """Write ``name = value`` into ``config`` (replacing an earlier line for it); True if changed."""
    _path(name)
    if not os.path.isabs(config):
        raise InvalidArgument(f"sysctl.persist: config {config!r} must be an absolute path")
    want = normalize(value)
    lines = _raw_lines(config)
    out, found = [], False
    for line in lines:
        key = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith(("#", ";")) else None
        if key == name:
            if not found:
                out.append(f"{name} = {want}\n")
            found = True
        else:
            out.append(line)
    if not found:
        out.append(f"{name} = {want}\n")
    if out == lines:
        return False
    if not ctx.test:
        os.makedirs(os.path.dirname(config), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(config), prefix=".sysctl.")
        with os.fdopen(fd, "w") as handle:
            handle.writelines(out)
        os.chmod(tmp, 0o644)
        os.replace(tmp, config)
    return True


def _raw_lines(config: str) -> list[str]:
    try:
        with open(config) as handle:
            return handle.readlines()
    except FileNotFoundError:
        return []


def _entries(config: str) -> list[tuple[str, str]]:
    out = []
    for line in _raw_lines(config):
        if "=" in line and not line.lstrip().startswith(("#", ";")):
            key, value = line.split("=", 1)
            out.append((key.strip(), normalize(value)))
    return out


SPEC = ModuleSpec("sysctl", functions=(get, assign, persisted, persist), inline=("get", "persisted"))
