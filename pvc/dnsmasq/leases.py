"""Parse dnsmasq's lease file into dicts (a pure function, tested from text).

Each IPv4 line is ``<expiry epoch> <mac> <ip> <hostname|*> <client-id|*>``; expiry 0 means
infinite; a ``duid`` line introduces IPv6 leases, which are skipped.

Example::

    parse_leases("1795591692 02:00:00:00:aa:01 10.50.0.10 vm1 01:02:00:00:00:aa:01\\n")
    # [{"expires": 1795591692, "mac": "02:00:00:00:aa:01", "ip": "10.50.0.10",
    #   "hostname": "vm1", "client_id": "01:02:00:00:00:aa:01"}]
"""

from __future__ import annotations

from typing import Any


def parse_leases(text: str) -> list[dict[str, Any]]:
    leases = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[0] == "duid" or not parts[0].isdigit() or ":" in parts[2]:
            continue
        leases.append({
            "expires": int(parts[0]) or None,
            "mac": parts[1],
            "ip": parts[2],
            "hostname": None if parts[3] == "*" else parts[3],
            "client_id": None if len(parts) < 5 or parts[4] == "*" else parts[4],
        })
    return leases
