"""Opening the master's client socket from the CLI, with the reason when that is not possible.

A non-root user cannot see into the master's 0700 run directory, so the socket looks absent and
the client would say "master is not running" while it runs. This module checks the path first
and says "permission denied" instead (see :func:`permission_denied`).
"""

from __future__ import annotations

import os
import pwd
from typing import TYPE_CHECKING

import click

from pvc.errors import MasterUnreachable, PvcError

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
    """A :class:`~pvc.client.Client` for the master configured in ``config_dir``; when that
    master is not running, for the first running one of its ``fallback_masters`` (saying so on
    stderr), so the CLI keeps working through another master of the cluster."""
    from pvc.client import Client, master_pid
    from pvc.config import load_master
    from pvc.wire.local import CLIENT_SOCKET

    cfg = load_master(config_dir)  # config errors first: they need nothing else
    check_access(os.path.join(cfg.sock_dir, CLIENT_SOCKET), os.R_OK | os.W_OK)
    if master_pid(cfg.sock_dir) is not None or not cfg.fallback_masters:
        return Client(config=cfg)
    tried = [config_dir]
    for other_dir in cfg.fallback_masters:
        other_dir = os.path.join(config_dir, other_dir)
        tried.append(other_dir)
        other = load_master(other_dir)
        if master_pid(other.sock_dir) is not None:
            click.echo(f"pvc: the master of {config_dir} is not running; using the master of {other_dir}",
                       err=True)
            return Client(config=other)
    raise MasterUnreachable(f"no master is running (tried the masters of {', '.join(tried)})")
