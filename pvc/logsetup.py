"""Daemon logging: to stderr and to a file, at the configured or ``--log-level`` level."""

from __future__ import annotations

import logging
import os

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup(level: str, log_file: str | None) -> None:
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(getattr(logging, level.upper()))
    handler: logging.Handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    if log_file:
        os.makedirs(os.path.dirname(log_file), exist_ok=True, mode=0o700)
        # the log names minions, jobs and refused peers: not for every local user (0600,
        # whatever the umask; systemd's UMask= is not there when run by hand)
        os.close(os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        os.chmod(log_file, 0o600)
        fh = logging.FileHandler(log_file)
        fh.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(fh)
