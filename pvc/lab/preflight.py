"""Checks before a lab starts, each failing with what to do: root, programs (by Debian package),
ports, and a free /24 for the lab's bridge.

Ports the lab picks itself come from just below the kernel's ephemeral range
(:func:`free_port`): a port from ``bind(0)`` is taken from that range, which outgoing
connections share, and one of those could hold it before the daemon binds it ("Address already
in use"); below the range only a listener can.

Example::

    check_root(); check_programs(); ports = free_udp_ports(3)
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import socket
from collections.abc import Container

from pvc.lab import layout, netns
from pvc.lab.errors import LabError, MissingPackage, NotRoot, PortInUse

RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
SPAN = 12_000  # ports just below the ephemeral range to choose from
# program -> the Debian package that ships it (scripts/setup.d/40-lab.sh installs them all)
PROGRAMS = {
    "/usr/bin/ipmi_sim": "openipmi",
    "/usr/bin/ipmitool": "ipmitool",
    "/usr/bin/java": "zookeeper (it pulls in a JRE)",
    "/usr/share/java/zookeeper.jar": "zookeeper",
    "/usr/share/java/slf4j-simple.jar": "zookeeper (libslf4j-java)",
    "/usr/sbin/libvirtd": "libvirt-daemon-system",
    "/usr/bin/qemu-system-x86_64": "qemu-system-x86",
    "unshare": "util-linux",
    "ip": "iproute2",
    "mount": "mount",
}
# what ``up --ceph`` runs besides
CEPH_PROGRAMS = {
    "/usr/bin/ceph-mon": "ceph-mon",
    "/usr/bin/ceph-mgr": "ceph-mgr",
    "/usr/bin/ceph-osd": "ceph-osd",
    "/usr/bin/ceph-authtool": "ceph-common",
    "/usr/bin/monmaptool": "ceph-common",
    "/usr/lib/x86_64-linux-gnu/qemu/block-rbd.so": "qemu-block-extra (QEMU's RBD driver)",
}


def check_root() -> None:
    if os.geteuid() != 0:
        raise NotRoot("pvc lab needs root: it creates network namespaces, a bridge and privileged libvirtds "
                      "(run it with sudo)")


def check_programs(ceph: bool = False) -> None:
    for program, package in {**PROGRAMS, **(CEPH_PROGRAMS if ceph else {})}.items():
        found = os.path.exists(program) if program.startswith("/") else shutil.which(program)
        if not found:
            raise MissingPackage(f"{program} is missing: apt-get install {package.split()[0]} "
                                 f"(or run scripts/setup.sh)")
    try:
        import libvirt  # noqa: F401  (the minions' virt module needs it)
    except ImportError:
        raise MissingPackage("the Python module libvirt is missing: pip install libvirt-python "
                             "(needs apt-get install libvirt-dev pkg-config gcc; scripts/setup.sh does all)") from None
    if ceph:
        try:
            import rados  # noqa: F401  (the lab sets its Ceph up, the minions' ceph module uses it)
            import rbd  # noqa: F401
        except ImportError:
            raise MissingPackage("the Python modules rados/rbd are missing: apt-get install python3-rados "
                                 "python3-rbd and link them into the venv (scripts/setup.sh does all)") from None


def check_port(address: str, port: int, kind: int = socket.SOCK_STREAM, what: str = "") -> None:
    """Raise :class:`PortInUse` if ``address:port`` cannot be bound."""
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((address, port))
        except OSError as exc:
            proto = "udp" if kind == socket.SOCK_DGRAM else "tcp"
            raise PortInUse(f"{what or 'port'} {address}:{port}/{proto} is in use ({exc.strerror})") from None


def free_udp_ports(count: int, base: int = 0) -> list[int]:
    """``count`` UDP ports on 127.0.0.1: ``base``, ``base+1``... (each checked), or any free ones."""
    ports: list[int] = []
    for n in range(count):
        if base:
            check_port("127.0.0.1", base + n, socket.SOCK_DGRAM, "BMC port (choose another with --bmc-port)")
        ports.append(base + n if base else free_port("127.0.0.1", socket.SOCK_DGRAM, avoid=ports))
    return ports


def ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range."""
    try:
        with open(RANGE_FILE) as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port(address: str, kind: int = socket.SOCK_STREAM, count: int = 1, room: int = 0,
              avoid: Container[int] = ()) -> int:
    """A port P on ``address`` with P .. P+count-1 free now, none in ``avoid``, picked among the
    :data:`SPAN` ports below the ephemeral range, with ``room`` more ports above them still
    below it (for daemons that bind next to P)."""
    top = ephemeral_low() - count - room
    bottom = max(1024, top - SPAN)
    start = random.randint(bottom, top)  # then every port of the span once, wrapping around
    for port in itertools.chain(range(start, top + 1), range(bottom, start)):
        span = range(port, port + count)
        if any(p in avoid for p in span):
            continue
        try:
            for p in span:
                check_port(address, p, kind)
        except PortInUse:
            continue
        return port
    raise LabError(f"no free port on {address} in the {SPAN} below the ephemeral range")


def free_subnet(preferred: int, taken_prefixes: set[int] | None = None) -> int:
    """A third octet X such that nothing on this host routes or holds an address in 10.213.X.0/24
    (lab traffic must never leave on the default route)."""
    for step in range(224):
        candidate = 16 + (preferred - 16 + step) % 224
        if taken_prefixes and candidate in taken_prefixes:
            continue
        if not netns.routes_to(f"{layout.SUPERNET}.{candidate}."):
            return candidate
    raise LabError(f"no free /24 in {layout.SUPERNET}.0.0/16 for the lab's bridge")


def tcp_port(address: str, preferred: int) -> int:
    """``preferred`` if it can be bound on ``address``, else a free one (a process bound to
    0.0.0.0 on the usual port must not stop a lab)."""
    try:
        check_port(address, preferred)
        return preferred
    except PortInUse:
        return free_port(address)
