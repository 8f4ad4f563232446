"""Names and addresses: fixture parsers, and this machine's namespace."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

from pvc.grains.host import Host
from pvc.grains.netinfo import address_grains, fqdn_from_hosts, name_grains, parse_fib_trie, parse_if_inet6

FIXTURES = Path(__file__).parent / "fixtures" / "proc"


def test_parse_fib_trie_keeps_only_local_host_addresses() -> None:
    assert parse_fib_trie((FIXTURES / "fib_trie").read_text()) == ["10.0.0.12", "10.0.0.200", "127.0.0.1",
                                                                    "192.0.2.2"]


def test_parse_if_inet6() -> None:
    assert parse_if_inet6((FIXTURES / "if_inet6").read_text()) == ["::1", "fd00::2", "fe80::fc:ff:fe00:1"]


def test_fqdn_from_hosts() -> None:
    hosts = "127.0.0.1 localhost\n10.0.0.5 node1.example.org node1 # the node\n10.0.0.6 other.example.org\n"
    assert fqdn_from_hosts("node1", hosts) == "node1.example.org"
    assert fqdn_from_hosts("node2", hosts) == "node2"
    assert fqdn_from_hosts("node1", "10.0.0.5 node1\n") == "node1"


def test_this_machine() -> None:
    names = name_grains(Host())
    assert names["hostname"] == socket.gethostname() and names["host"] == names["hostname"].split(".")[0]
    assert names["fqdn"].split(".")[0] == names["host"]
    addresses = address_grains(Host())
    assert "127.0.0.1" in addresses["ipv4"]
    assert all(isinstance(ipaddress.ip_address(a), ipaddress.IPv4Address) for a in addresses["ipv4"])
    assert all(isinstance(ipaddress.ip_address(a), ipaddress.IPv6Address) for a in addresses["ipv6"])
