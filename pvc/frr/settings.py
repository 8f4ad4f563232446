"""Typed BGP/EVPN settings for frr.conf, built from structured data and checked before rendering.

Every value that reaches the template is validated here (numbers in range, IP addresses,
plain descriptions and paths), so a rendered config can never carry an injected line. IP forwarding is the host's
sysctl business and is not rendered (zebra shows it only when off, so a rendered
``ip forwarding`` would differ on every reload).

Example::

    s = BgpSettings.of({"asn": 65000, "router_id": "10.0.12.1",
                        "peers": [{"address": "10.0.12.2", "remote_as": 65000}]})
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pvc.errors import ConfigError, InvalidArgument
from pvc.typedconf import build

MAX_ASN = 4294967295
_DESC_RE = re.compile(r"[A-Za-z0-9 _.:/-]{1,80}\Z")
_PATH_RE = re.compile(r"/[A-Za-z0-9_./-]+\Z")


def _fail(what: str) -> None:
    raise InvalidArgument(f"frr: {what}")


def _asn(value: int | str, what: str) -> None:
    if isinstance(value, str) and value in ("internal", "external"):
        return
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ASN:
        _fail(f"{what} must be an AS number 1..{MAX_ASN}" + (" or 'internal'/'external'" if isinstance(value, str) else ""))


def _ip(value: str, what: str, v4: bool = False) -> None:
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        _fail(f"{what} {value!r} is not an IP address")
    if v4 and addr.version != 4:
        _fail(f"{what} {value!r} must be an IPv4 address")


@dataclass(frozen=True)
class Peer:
    """A BGP neighbour; ``connect_timer`` (s) bounds the wait before retrying a failed connect."""

    address: str
    remote_as: int | str
    description: str = ""
    connect_timer: int = 5

    def __post_init__(self) -> None:
        _ip(self.address, "peer address")
        _asn(self.remote_as, f"peer {self.address}: remote_as")
        if self.description and not _DESC_RE.match(self.description):
            _fail(f"peer {self.address}: description may use letters, digits, space and _.:/- only")
        if not 1 <= self.connect_timer <= 65535:
            _fail(f"peer {self.address}: connect_timer must be 1..65535 seconds")


@dataclass(frozen=True)
class BgpSettings:
    """One router: ASN, router id, timers, peers, and the EVPN address family."""


    asn: int
    router_id: str
    peers: tuple[Peer, ...] = ()
    evpn: bool = True
    advertise_all_vni: bool = True
    ebgp_requires_policy: bool = True
    keepalive: int = 3
    holdtime: int = 9
    log_file: str = ""

    def __post_init__(self) -> None:
        _asn(self.asn, "asn")
        _ip(self.router_id, "router_id", v4=True)
        if not (0 <= self.keepalive <= 65535 and (self.holdtime == 0 or 3 <= self.holdtime <= 65535)):
            _fail("keepalive must be 0..65535 and holdtime 0 or 3..65535 seconds")
        if self.log_file and not _PATH_RE.match(self.log_file):
            _fail(f"log_file {self.log_file!r} must be an absolute path")
        if len({p.address for p in self.peers}) != len(self.peers):
            _fail("a peer address is listed twice")

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> BgpSettings:
        """Build from plain data (a call's keyword arguments, or pillar-like YAML)."""
        try:
            return build(cls, data, where="frr")
        except ConfigError as exc:
            raise InvalidArgument(str(exc)) from None
