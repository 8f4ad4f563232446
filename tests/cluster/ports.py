"""Ports for the daemons a test starts, picked below the kernel's ephemeral range.

A port from ``bind(("127.0.0.1", 0))`` comes from the range the kernel also gives outgoing
connections: between the pick and the daemon's own bind, a connection of some other process
took one, and a master failed to start with "Address already in use" (a CI failure). Below the
range only a listener can hold a port, and each port is handed out once per process.
"""

from __future__ import annotations

import random
import socket

RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
SPAN = 12_000  # ports just below the ephemeral range to choose from
_handed: set[int] = set()


def _ephemeral_low() -> int:
    try:
        with open(RANGE_FILE) as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port() -> int:
    """A port on 127.0.0.1 no one listens on now, not handed out before by this process."""
    low = _ephemeral_low()
    for _ in range(1000):
        port = random.randint(max(1024, low - SPAN), low - 1)
        if port in _handed:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed.add(port)
        return port
    raise RuntimeError(f"no free port in the {SPAN} below {low} (the ephemeral range)")


def free_ports(n: int) -> list[int]:
    return [free_port() for _ in range(n)]
