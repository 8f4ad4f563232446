"""Read-only, cached access to the files grain probes look at, under a chosen root.

Probes read ``/proc``, ``/sys`` and ``/etc`` through a :class:`Host` instead of ``open()`` so that
one collection reads each file once (``/proc/cpuinfo`` serves two probes), and so that tests can
point a probe at a fixture tree that looks like another machine (a container, a KVM guest).

Example::

    host = Host()                              # this machine
    host.read("/etc/os-release")               # text, or None if absent/unreadable
    Host("tests/grains/fixtures/kvm").read("/sys/class/dmi/id/sys_vendor")
"""

from __future__ import annotations

import os
import sys

# Where daemons live on Debian even when the minion's PATH lacks the sbin directories.
EXTRA_BIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
_TRIPLET = getattr(sys.implementation, "_multiarch", "") or f"{os.uname().machine}-linux-gnu"
LIB_DIRS = (f"/usr/lib/{_TRIPLET}", f"/lib/{_TRIPLET}", "/usr/lib64", "/usr/lib", "/usr/local/lib")


class Host:
    def __init__(self, root: str = "/") -> None:
        self.root = root
        self._texts: dict[str, str | None] = {}

    def path(self, path: str) -> str:
        """The real path of ``path`` (absolute, as seen on the probed machine)."""
        return os.path.join(self.root, path.lstrip("/"))

    def read(self, path: str) -> str | None:
        """The file's text (UTF-8, undecodable bytes replaced), or None if it cannot be read."""
        if path not in self._texts:
            try:
                with open(self.path(path), encoding="utf-8", errors="replace") as fh:
                    self._texts[path] = fh.read()
            except OSError:
                self._texts[path] = None
        return self._texts[path]

    def exists(self, path: str) -> bool:
        return os.path.exists(self.path(path))

    def listdir(self, path: str) -> list[str]:
        try:
            return os.listdir(self.path(path))
        except OSError:
            return []

    def readlink(self, path: str) -> str | None:
        try:
            return os.readlink(self.path(path))
        except OSError:
            return None

    def can_open_rw(self, path: str) -> bool:
        """True if this process may open ``path`` for reading and writing (e.g. ``/dev/kvm``)."""
        try:
            os.close(os.open(self.path(path), os.O_RDWR | os.O_CLOEXEC))
        except OSError:
            return False
        return True

    def which(self, name: str) -> str | None:
        """The path of executable ``name`` on PATH or in the usual bin/sbin directories."""
        dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
        for directory in dict.fromkeys([*dirs, *EXTRA_BIN_DIRS]):
            candidate = os.path.join(directory, name)
            if os.access(self.path(candidate), os.X_OK) and not os.path.isdir(self.path(candidate)):
                return candidate
        return None

    def library(self, soname: str) -> str | None:
        """The file name a shared library's soname points to (``libvirt.so.0`` ->
        ``libvirt.so.0.9000.0``: the version without loading the library), or None if absent."""
        for directory in LIB_DIRS:
            path = os.path.join(directory, soname)
            if self.exists(path):
                return os.path.basename(self.readlink(path) or soname)
        return None
