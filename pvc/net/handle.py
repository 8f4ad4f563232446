"""pyroute2 sockets and netlink errors, at one edge.

Why a helper: ``IPRoute(netns=X)`` silently *creates* a missing namespace, and raw
``NetlinkError(95)`` means nothing to an operator. Here a missing namespace is an error and errno
values become typed errors through one table.

Example::

    with netlink("nsA") as ipr:
        ipr.link("add", ifname="br0", kind="bridge")
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pvc.errors import BackendUnavailable, ExecutionError, InvalidArgument
from pvc.net.args import netns_name


class NetworkError(ExecutionError):
    """The kernel refused a network change (the message gives the netlink reason)."""


class KernelFeatureMissing(NetworkError, NotImplementedError):
    """The running kernel lacks a feature the request needs (8021q, vrf, ...)."""


class NoSuchLink(NetworkError, LookupError):
    """A named interface does not exist in the namespace."""


VLAN_MISSING = "network: the kernel has no 802.1Q VLAN support (8021q)"

# errno -> (error class, message prefix); anything else is a plain NetworkError.
_ERRORS: dict[int, tuple[type[NetworkError], str]] = {
    errno.ENODEV: (NoSuchLink, "no such device"),
    errno.EOPNOTSUPP: (KernelFeatureMissing, "the kernel does not support this"),
    errno.ENETUNREACH: (NetworkError, "gateway is not reachable from any address"),
    errno.EADDRNOTAVAIL: (NetworkError, "no such address"),
    errno.EEXIST: (NetworkError, "already exists"),
}


def raise_netlink(exc: Any, what: str) -> None:
    """Raise the typed pvc error for netlink error ``exc`` raised while doing ``what``."""
    cls, reason = _ERRORS.get(exc.code, (NetworkError, str(exc)))
    raise cls(f"network: cannot {what}: {reason} (errno {exc.code})") from None


@contextmanager
def netlink(netns: str | None = None) -> Iterator[Any]:
    """An ``IPRoute`` socket in ``netns`` (the minion's own namespace when None), closed after use."""
    try:
        from pyroute2 import IPRoute
    except ImportError as exc:
        raise BackendUnavailable(f"network: pyroute2 is not installed: {exc}") from None
    if netns is not None:
        try:
            ipr = IPRoute(netns=netns_name(netns), flags=0)  # flags=0: never create a namespace by accident
        except FileNotFoundError:
            raise InvalidArgument(f"network: no network namespace named {netns!r}") from None
    else:
        ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def link_index(ipr: Any, name: str) -> int:
    """The index of interface ``name``, or :class:`NoSuchLink`."""
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise NoSuchLink(f"network: no interface named {name!r}")
    return int(found[0])
