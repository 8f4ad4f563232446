"""Is this minion a configured Ceph client, and did a monitor answer at start-up?

The reachability check must never hold up a minion start: it opens non-blocking TCP
connections to the monitors named by IP in ``mon_host`` and waits at most ``budget`` seconds
(20 ms by default: plenty for a cluster LAN; an unreachable mon simply reads as False). Mon host
*names* are skipped, since resolving them could block on DNS.

Example::

    mon_addresses("mon_host = [v2:10.0.0.1:3300/0,v1:10.0.0.1:6789/0]")
    # [("10.0.0.1", 3300), ("10.0.0.1", 6789)]
"""

from __future__ import annotations

import errno
import os
import re
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket

from pvc.grains.host import Host

DEFAULT_CONF = "/etc/ceph/ceph.conf"
MON_PORTS = (3300, 6789)
MAX_PROBES = 8
_MON_KEY = re.compile(r"^\s*mon[ _]+(host|addr)\s*=\s*(.*)$", re.MULTILINE | re.IGNORECASE)
_ADDR = re.compile(r"(\[[0-9a-fA-F:.]+\]|\d{1,3}(?:\.\d{1,3}){3})(?::(\d+))?")


def conf_path(host: Host) -> str | None:
    """The ceph.conf librados would read: ``$CEPH_CONF`` or ``/etc/ceph/ceph.conf``, if present."""
    path = os.environ.get("CEPH_CONF") or DEFAULT_CONF
    return path if host.exists(path) else None


def mon_addresses(conf_text: str) -> list[tuple[str, int]]:
    """Monitor (IP, port) pairs from ``mon_host``/``mon addr`` lines; no port means both defaults."""
    found: list[tuple[str, int]] = []
    for match in _MON_KEY.finditer(conf_text):
        for ip, port in _ADDR.findall(match.group(2)):
            ports = (int(port),) if port else MON_PORTS
            found.extend((ip.strip("[]"), p) for p in ports)
    return list(dict.fromkeys(found))


def tcp_reachable(addresses: list[tuple[str, int]], budget: float) -> bool:
    """True if any address accepts a TCP connection within ``budget`` seconds (probed in parallel)."""
    import select  # only when a ceph.conf exists: most minions never pay for socket/select
    import socket

    socks: list[socket.socket] = []
    try:
        pending = []
        for ip, port in addresses[:MAX_PROBES]:
            sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setblocking(False)
            err = sock.connect_ex((ip, port))
            if err == 0:
                return True
            if err in (errno.EINPROGRESS, errno.EWOULDBLOCK):
                pending.append(sock)
        deadline = time.monotonic() + budget
        while pending and (left := deadline - time.monotonic()) > 0:
            _, writable, _ = select.select([], pending, [], left)
            for sock in writable:
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    return True
                pending.remove(sock)
        return False
    finally:
        for sock in socks:
            sock.close()


def ceph_caps(host: Host, budget: float = 0.02) -> dict[str, bool | str | None]:
    """``ceph`` (librados and a ceph.conf present), ``rbd`` (also librbd), ``ceph_conf`` (its
    path) and ``ceph_reachable`` (a monitor accepted TCP at start; None if not checked)."""
    conf = conf_path(host)
    ceph = conf is not None and host.library("librados.so.2") is not None
    reachable = None
    if ceph and conf is not None:
        addresses = mon_addresses(host.read(conf) or "")
        reachable = tcp_reachable(addresses, budget) if addresses else None
    return {
        "ceph": ceph,
        "rbd": ceph and host.library("librbd.so.1") is not None,
        "ceph_conf": conf,
        "ceph_reachable": reachable,
    }
