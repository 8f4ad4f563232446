"""Errors of ``pvc lab``: each names what to do about it (the CLI prints them on one line)."""

from __future__ import annotations

from pvc.errors import PvcError


class LabError(PvcError):
    """Something the lab could not do; the message says what and why."""


class NotRoot(LabError, PermissionError):
    """Namespaces, bridges and a privileged libvirtd need root."""


class MissingPackage(LabError, FileNotFoundError):
    """A program the lab runs is not installed; the message names the Debian package."""


class LabExists(LabError, FileExistsError):
    """DIR already holds a lab (its lab.json): bring it down first."""


class LabNotFound(LabError, FileNotFoundError):
    """DIR holds no lab.json."""


class PortInUse(LabError, OSError):
    """A port the lab was told to use is taken."""


class UnknownNode(LabError, LookupError):
    """No node of that name in the lab."""


class StartFailed(LabError):
    """A lab process did not start or did not become ready in time; the message quotes its log."""


class DaemonExited(StartFailed):
    """A daemon exited while the lab waited for it to come up; the message says how and quotes its log."""

    def __init__(self, message: str, daemon: str) -> None:
        super().__init__(message)
        self.daemon = daemon
