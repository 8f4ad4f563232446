"""Ports for the daemons a test starts: below the kernel's ephemeral range, as the lab picks
them (:func:`pvc.lab.preflight.free_port`: a port from ``bind(0)`` comes from the range outgoing
connections share, and a master once failed to start with "Address already in use"), and each
handed out once per process.
"""

from __future__ import annotations

from pvc.lab import preflight

_handed: set[int] = set()


def free_port() -> int:
    """A port on 127.0.0.1 no one listens on now, not handed out before by this process."""
    port = preflight.free_port("127.0.0.1", avoid=_handed)
    _handed.add(port)
    return port


def free_ports(n: int) -> list[int]:
    return [free_port() for _ in range(n)]
