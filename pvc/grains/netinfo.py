"""Host names and IP addresses, read from files only: no DNS, no netlink library, no ``ip``.

Why: many minions start at once in benchmarks and tests, and grains must not stall on a
resolver (``socket.getfqdn()`` can wait seconds for DNS) or pay ~200 ms to import pyroute2.
The FQDN therefore comes from ``/etc/hosts`` (the canonical name of the line naming this
host) and addresses from ``/proc/net/fib_trie`` (IPv4) and ``/proc/net/if_inet6`` (IPv6), all
as seen from the minion's network namespace.

Example::

    parse_fib_trie(open("/proc/net/fib_trie").read())      # ["127.0.0.1", "192.0.2.2"]
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from pvc.grains.host import Host


def parse_fib_trie(text: str) -> list[str]:
    """Local IPv4 addresses: the trie leaves followed by a ``/32 host LOCAL`` entry."""
    found: set[ipaddress.IPv4Address] = set()
    leaf = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|-- "):
            leaf = stripped[4:]
        elif stripped.startswith("/32 host LOCAL") and leaf:
            try:
                found.add(ipaddress.IPv4Address(leaf))
            except ValueError:
                pass
    return [str(a) for a in sorted(found)]


def parse_if_inet6(text: str) -> list[str]:
    """IPv6 addresses from ``/proc/net/if_inet6`` (first column: 32 hex digits)."""
    found: set[ipaddress.IPv6Address] = set()
    for line in text.splitlines():
        fields = line.split()
        if fields and len(fields[0]) == 32:
            try:
                found.add(ipaddress.IPv6Address(bytes.fromhex(fields[0])))
            except ValueError:
                pass
    return [str(a) for a in sorted(found)]


def fqdn_from_hosts(hostname: str, hosts_text: str) -> str:
    """The first dotted name on an ``/etc/hosts`` line that names ``hostname``, else ``hostname``."""
    short = hostname.split(".")[0]
    for line in hosts_text.splitlines():
        names = line.partition("#")[0].split()[1:]
        if hostname in names or short in names:
            dotted = [n for n in names if "." in n and n.split(".")[0] == short]
            if dotted:
                return dotted[0]
    return hostname


def name_grains(host: Host) -> dict[str, Any]:
    """``hostname`` (as the kernel has it), ``host`` (short), ``fqdn``, ``domain``."""
    hostname = os.uname().nodename  # what gethostname() returns, without importing socket
    fqdn = hostname if "." in hostname else fqdn_from_hosts(hostname, host.read("/etc/hosts") or "")
    return {
        "hostname": hostname,
        "host": hostname.split(".")[0],
        "fqdn": fqdn,
        "domain": fqdn.partition(".")[2],
    }


def address_grains(host: Host) -> dict[str, Any]:
    """``ipv4`` and ``ipv6``: sorted lists of this namespace's local addresses (loopback included)."""
    grains: dict[str, Any] = {}
    v4 = host.read("/proc/net/fib_trie")
    if v4 is not None:
        grains["ipv4"] = parse_fib_trie(v4)
    v6 = host.read("/proc/net/if_inet6")
    if v6 is not None:
        grains["ipv6"] = parse_if_inet6(v6)
    return grains
