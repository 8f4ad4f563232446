"""Opening the master's client socket from the CLI, with the reason when that is not possible.

A non-root user cannot see into the master's 0700 run directory, so the socket looks absent and
the client would say "master is not running" while it runs. This module checks the path first
and says "permission denied" instead (see :func:`permission_denied`).
"""

from __future__ import annotations

import os
import pwd
from typing import TYPE_CHECKING

from pvc.errors import PvcError

if TYPE_CHECKING:
    from pvc.client import Client


class PermissionDenied(PvcError, PermissionError):
    """The operator's user may not read or use a pvc file or socket."""


def permission_denied(path: str) -> PermissionDenied:
    """``permission denied: PATH (run as root or as user X)``, X being the owner of the
    nearest existing directory of PATH when that is not root."""
    owner = _owner(path)
    who = "run as root, e.g. with sudo" if owner in (None, "root") else f"run as root or as user '{owner}'"
    return PermissionDenied(f"permission denied: {path} ({who})")


def _owner(path: str) -> str | None:
    probe = path
    while probe and probe != os.path.dirname(probe):
        try:
            return pwd.getpwuid(os.stat(probe).st_uid).pw_name
        except (OSError, KeyError):
            probe = os.path.dirname(probe)
    return None


def check_access(path: str, mode: int = os.R_OK) -> None:
    """Raise :class:`PermissionDenied` if ``path`` exists but cannot be used with ``mode``, or
    cannot even be looked at because a parent directory is closed to us."""
    try:
        os.stat(path)
    except PermissionError:
        raise permission_denied(path) from None
    except FileNotFoundError:
        return
    if not os.access(path, mode):
        raise permission_denied(path)


def open_client(config_dir: str) -> Client:
    """A :class:`~pvc.client.Client` for the master configured in ``config_dir``."""
    from pvc.config import load_master

    cfg = load_master(config_dir)  # config errors first: they need nothing else
    from pvc.client import Client
    from pvc.wire.local import CLIENT_SOCKET

    check_access(os.path.join(cfg.sock_dir, CLIENT_SOCKET), os.R_OK | os.W_OK)
    return Client(config=cfg)
