"""Checks for the network module's arguments, before anything reaches netlink.

Why: pyroute2 packs whatever it is given into structs, so a VNI of ``"abc"`` or a local address
of ``"nope"`` surfaces as ``struct.error`` or ``OSError`` deep inside it, and an out-of-range VNI
as a bare ``ERANGE``. Checked here, each becomes an :class:`InvalidArgument` naming the
argument, and a plan is never half applied because of a bad value.

Example::

    number(100, "vni", 1, MAX_VNI)     # 100
    ifname("vx100")                     # "vx100"
    netns_name("../etc")                # InvalidArgument: network: invalid namespace name '../etc'
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from pvc.errors import InvalidArgument

MAX_VNI = 2**24 - 1
MAX_VLAN = 4094
MAX_TABLE = 2**32 - 1
# Linux: at most 15 bytes, no '/', ':' or white space; '.' and '..' are taken.
_IFNAME_RE = re.compile(r"[A-Za-z0-9_.@-]{1,15}\Z")
_NETNS_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")


def ifname(value: Any, what: str = "interface name") -> str:
    """An interface name the kernel accepts."""
    if not isinstance(value, str) or not _IFNAME_RE.match(value) or value in (".", ".."):
        raise InvalidArgument(f"network: {what} {value!r} is not valid (1-15 of A-Z a-z 0-9 _ . @ -)")
    return value


def netns_name(value: Any) -> str:
    """A name under /run/netns (never a path)."""
    if not isinstance(value, str) or not _NETNS_RE.match(value) or value in (".", ".."):
        raise InvalidArgument(f"network: invalid namespace name {value!r}")
    return value


def number(value: Any, what: str, low: int, high: int) -> int:
    """A whole number in ``low..high``."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidArgument(f"network: {what} must be a whole number {low}..{high}, got {value!r}")
    return value


def ipv4(value: Any, what: str) -> str:
    """An IPv4 address in its canonical text form."""
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise InvalidArgument(f"network: {what} {value!r} is not an IPv4 address") from None


def flag(value: Any, what: str) -> bool:
    """A real boolean (``"no"`` is not false here: it would be read as true)."""
    if not isinstance(value, bool):
        raise InvalidArgument(f"network: {what} must be true or false, got {value!r}")
    return value
