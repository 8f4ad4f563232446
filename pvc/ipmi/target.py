"""Where a node's BMC is and how to log in: a frozen :class:`BmcTarget`, loaded once from the
node's config and checked before any fence needs it.

The password is never part of the record, of ZooKeeper or of a command line: the record names a
file that holds it, and the loader refuses a file that anyone but its owner can read or write
(``chmod 600``), because a fencing credential powers machines off. A config error found here is
one line at startup, not a failed fence at 3 a.m.

Example (a node's config, e.g. from its minion or cluster config)::

    node_config = {"bmc": {"host": "10.0.0.5", "user": "admin",
                           "password_file": "/etc/pvc/bmc/hv1.pass"}}
    target = load_target(node_config, where="node hv1")
    target.label        # "admin@10.0.0.5:623"
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pvc.errors import ConfigError
from pvc.ipmi.errors import BmcConfigError
from pvc.typedconf import build

INTERFACES = ("lanplus", "lan")
# a DNS name, IPv4 or IPv6 literal; never starting with "-" (it goes into argv after -H)
_HOST = re.compile(r"^[A-Za-z0-9_\[][A-Za-z0-9_.:%\[\]-]{0,252}$")
_USER = re.compile(r"^[^\x00-\x1f\x7f]{1,16}$")  # IPMI user names are at most 16 bytes


@dataclass(frozen=True)
class BmcTarget:
    """One BMC. ``cipher`` 3 (RAKP-HMAC-SHA1, AES) is what ipmitool and most BMCs agree on
    without a cipher-suite probe (which some BMCs never answer: 10 s per call)."""

    host: str
    user: str
    password_file: str
    port: int = 623
    interface: str = "lanplus"
    cipher: int = 3

    @property
    def label(self) -> str:
        """How messages name this BMC: ``user@host:port`` (no secret in it)."""
        return f"{self.user}@{self.host}:{self.port}"


def load_target(node_config: Mapping[str, Any], where: str, key: str = "bmc") -> BmcTarget:
    """Build and check the ``bmc`` section of ``node_config``; raise :class:`BmcConfigError`.

    ``where`` names the node in messages ("node hv1: bmc: option 'port' must be an integer").
    """
    if not isinstance(node_config, Mapping):
        raise BmcConfigError(f"{where}: expected a mapping, got {type(node_config).__name__}")
    section = node_config.get(key)
    if section is None:
        raise BmcConfigError(f"{where}: no '{key}' section (host, user, password_file)")
    return target_from_mapping(section, f"{where}: {key}")


def target_from_mapping(section: Any, where: str) -> BmcTarget:
    """Build a :class:`BmcTarget` from the ``bmc`` section itself and check it."""
    try:
        target = build(BmcTarget, section, where=where)
    except ConfigError as exc:
        raise BmcConfigError(str(exc)) from None
    check_target(target, where)
    return target


def check_target(target: BmcTarget, where: str) -> None:
    """Values ``build`` cannot check by type: ranges, shapes, and the password file's safety."""
    if not _HOST.match(target.host):
        raise BmcConfigError(f"{where}: option 'host' {target.host!r} is not a host name or IP address")
    if not 1 <= target.port <= 65535:
        raise BmcConfigError(f"{where}: option 'port' must be 1..65535, got {target.port}")
    if not _USER.match(target.user):
        raise BmcConfigError(f"{where}: option 'user' must be 1..16 printable characters")
    if target.interface not in INTERFACES:
        raise BmcConfigError(f"{where}: option 'interface' must be one of {', '.join(INTERFACES)}, "
                             f"got {target.interface!r}")
    if not 0 <= target.cipher <= 17:
        raise BmcConfigError(f"{where}: option 'cipher' must be 0..17, got {target.cipher}")
    check_password_file(target.password_file, where)


def check_password_file(path: str, where: str) -> None:
    """Refuse a password file that is missing, not a regular file, unreadable to us, owned by
    another (non-root) user, or open to group or others: the credential must stay private."""
    if not path or not os.path.isabs(path):
        raise BmcConfigError(f"{where}: option 'password_file' must be an absolute path, got {path!r}")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise BmcConfigError(f"{where}: password file {path} does not exist") from None
    except OSError as exc:
        raise BmcConfigError(f"{where}: password file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise BmcConfigError(f"{where}: password file {path} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise BmcConfigError(f"{where}: password file {path} has mode {mode:04o}: group or others may "
                             f"access it; make it private with: chmod 600 {path}")
    if st.st_uid not in (os.geteuid(), 0):
        raise BmcConfigError(f"{where}: password file {path} belongs to uid {st.st_uid}, "
                             f"not to this user ({os.geteuid()}) or root")
    if not os.access(path, os.R_OK):
        raise BmcConfigError(f"{where}: password file {path} is not readable by this user")
