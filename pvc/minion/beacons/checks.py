"""The beacon checks: each is its own typed config and one ``sample()`` of the local machine.

A :class:`Sample` has a ``state`` (what changes are detected on), ``alarm`` (the threshold is
crossed) and ``data`` for the event. Readings come straight from the kernel (``/proc``,
``statvfs``, ``getloadavg``): no psutil, no shell, so a configured beacon costs little and an
unconfigured one nothing. The parsers are pure functions, tested from fixture text.

Example::

    DiskCheck(path="/", max_percent=90).sample()   # Sample(state=False, alarm=False, data={"percent": 41.2, ...})
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, ClassVar

from pvc.errors import ConfigError

AVERAGES = {"1m": 0, "5m": 1, "15m": 2}
SYSTEMD_DIR = "/run/systemd/system"  # present exactly when systemd is the running init
_SERVICE = re.compile(r"[A-Za-z0-9@_.:-]{1,128}")
SERVICE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Sample:
    state: Hashable
    alarm: bool
    data: dict[str, Any]


def threshold(value: float, limit: float, **data: Any) -> Sample:
    alarm = value > limit
    return Sample(alarm, alarm, data)


def parse_meminfo(text: str) -> dict[str, int]:
    """``/proc/meminfo`` as ``{field: kB}``."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        number = rest.split()[:1]
        if number and number[0].isdigit():
            out[name.strip()] = int(number[0])
    return out


def memory_percent(info: dict[str, int]) -> float:
    """Memory in use as the kernel sees it: what ``MemAvailable`` cannot give back."""
    total = info.get("MemTotal", 0)
    if total <= 0:
        raise ValueError("/proc/meminfo has no MemTotal")
    return 100.0 * (total - info.get("MemAvailable", info.get("MemFree", 0))) / total


def disk_percent(st: os.statvfs_result) -> float:
    """Use% as ``df`` prints it: used / (used + available to unprivileged users)."""
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    usable = used + st.f_bavail * st.f_frsize
    return 100.0 * used / usable if usable else 0.0


def pid_running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def pids_named(name: str) -> list[int]:
    """PIDs whose ``comm`` (the kernel's 15-character process name) is ``name``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as fh:
                    if fh.read().rstrip("\n") == name[:15]:
                        found.append(int(entry))
            except OSError:
                continue  # gone while we looked
    return found


@dataclass(frozen=True)
class LoadCheck:
    """The load average (``average``: 1m, 5m or 15m) above ``max``."""

    max: float
    average: str = "1m"
    kind: ClassVar[str] = "load"

    def validate(self, where: str) -> None:
        if self.average not in AVERAGES:
            raise ConfigError(f"{where}: average must be one of {', '.join(AVERAGES)}")

    def sample(self) -> Sample:
        value = os.getloadavg()[AVERAGES[self.average]]
        return threshold(value, self.max, load=round(value, 2), average=self.average, max=self.max)


@dataclass(frozen=True)
class MemoryCheck:
    """Memory in use above ``max_percent``."""

    max_percent: float
    kind: ClassVar[str] = "memory"

    def validate(self, where: str) -> None:
        _percent(self.max_percent, where)

    def sample(self) -> Sample:
        with open("/proc/meminfo") as fh:
            percent = memory_percent(parse_meminfo(fh.read()))
        return threshold(percent, self.max_percent, percent=round(percent, 1), max_percent=self.max_percent)


@dataclass(frozen=True)
class DiskCheck:
    """The file system holding ``path`` fuller than ``max_percent``."""

    path: str
    max_percent: float
    kind: ClassVar[str] = "disk"

    def validate(self, where: str) -> None:
        _percent(self.max_percent, where)
        if not os.path.isabs(self.path):
            raise ConfigError(f"{where}: path must be absolute, got {self.path!r}")

    def sample(self) -> Sample:
        percent = disk_percent(os.statvfs(self.path))
        return threshold(percent, self.max_percent, path=self.path, percent=round(percent, 1),
                         max_percent=self.max_percent)


@dataclass(frozen=True)
class ProcessCheck:
    """A process that should run, by ``name`` (its ``comm``) or by ``pid_file``: alarm when it
    does not."""

    name: str = ""
    pid_file: str = ""
    kind: ClassVar[str] = "process"

    def validate(self, where: str) -> None:
        if bool(self.name) == bool(self.pid_file):
            raise ConfigError(f"{where}: give exactly one of name (a process name) or pid_file")
        if self.pid_file and not os.path.isabs(self.pid_file):
            raise ConfigError(f"{where}: pid_file must be absolute, got {self.pid_file!r}")

    def sample(self) -> Sample:
        if self.name:
            pids = pids_named(self.name)
            return Sample(not pids, not pids, {"name": self.name, "running": bool(pids), "pids": pids[:16]})
        try:
            with open(self.pid_file) as fh:
                text = fh.read(32).strip()
            pid = int(text) if text.isdigit() else 0
        except OSError:
            pid = 0
        running = pid > 0 and pid_running(pid)
        return Sample(not running, not running, {"pid_file": self.pid_file, "running": running, "pid": pid})


@dataclass(frozen=True)
class ServiceCheck:
    """A systemd unit that should be active (``systemctl is-active``): alarm when it is not.
    Only where systemd runs; elsewhere, watch the daemon with ``process`` (name or pid_file)."""

    name: str
    kind: ClassVar[str] = "service"

    def validate(self, where: str) -> None:
        if not _SERVICE.fullmatch(self.name):
            raise ConfigError(f"{where}: name must be a systemd unit name, got {self.name!r}")
        if not os.path.isdir(SYSTEMD_DIR):
            raise ConfigError(f"{where}: systemd is not running on this host (no {SYSTEMD_DIR}): "
                              f"watch {self.name} with process: {{name: ...}} or {{pid_file: ...}} instead")

    def sample(self) -> Sample:
        # the one subprocess of the beacons: systemd has no file to read a unit's state from
        try:
            done = subprocess.run(["systemctl", "is-active", "--quiet", "--", self.name],
                                  timeout=SERVICE_TIMEOUT, check=False, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            active = done.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            active = False
        return Sample(not active, not active, {"name": self.name, "active": active})


@dataclass(frozen=True)
class FileCheck:
    """A file created, changed or removed: every change is an event (no recovery)."""

    path: str
    kind: ClassVar[str] = "file"

    def validate(self, where: str) -> None:
        if not os.path.isabs(self.path):
            raise ConfigError(f"{where}: path must be absolute, got {self.path!r}")

    def sample(self) -> Sample:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return Sample(None, False, {"path": self.path, "exists": False})
        return Sample((st.st_ino, st.st_size, st.st_mtime_ns), False,
                      {"path": self.path, "exists": True, "size": st.st_size, "mtime": st.st_mtime})


def _percent(value: float, where: str) -> None:
    if not 0 <= value <= 100:
        raise ConfigError(f"{where}: max_percent must be between 0 and 100")


Check = LoadCheck | MemoryCheck | DiskCheck | ProcessCheck | ServiceCheck | FileCheck
CHECKS: dict[str, type[Check]] = {cls.kind: cls for cls in
                                  (LoadCheck, MemoryCheck, DiskCheck, ProcessCheck, ServiceCheck, FileCheck)}
