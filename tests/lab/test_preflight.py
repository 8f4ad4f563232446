"""Ports the lab picks itself: below the kernel's ephemeral range (where no outgoing connection
can hold one between the pick and the daemon's bind), free, distinct, with room for neighbours."""

from __future__ import annotations

import socket

import pytest

from pvc.lab import ceph, preflight
from pvc.lab.errors import LabError


def test_a_picked_port_and_its_neighbours_are_free_and_below_the_ephemeral_range() -> None:
    low = preflight.ephemeral_low()
    for _ in range(50):
        port = preflight.free_port("127.0.0.1", count=2, room=110)
        assert low - preflight.SPAN - 112 <= port and port + 2 + 110 <= low
        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", port))
            b.bind(("127.0.0.1", port + 1))
    assert ceph.pick_port("127.0.0.1") + 1 + ceph.PORT_WINDOW[1] < low


class AllBut:
    def __init__(self, port: int) -> None:
        self.port = port

    def __contains__(self, port: object) -> bool:
        return port != self.port


def test_avoided_and_taken_ports_are_never_picked() -> None:
    only = preflight.free_port("127.0.0.1")
    assert preflight.free_port("127.0.0.1", avoid=AllBut(only)) == only
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", only))
        with pytest.raises(LabError, match="no free port on 127.0.0.1"):
            preflight.free_port("127.0.0.1", avoid=AllBut(only))


def test_bmc_ports_are_distinct_free_udp_ports() -> None:
    ports = preflight.free_udp_ports(5)
    assert len(set(ports)) == 5 and max(ports) < preflight.ephemeral_low()
