"""Names, addresses and MACs of a lab: pure functions of its directory and a subnet number.

Several labs may run on one machine at once (tests of several people, a demo), so every link and
namespace name carries a prefix derived from the lab's directory (``pvl`` + 5 hex digits of its
path's hash), and each lab has its own /24 in 10.213.0.0/16 that exists only on its bridge and in
its node namespaces (nodes get no default route: lab traffic cannot leave the bridge).
MACs are fixed per node and for the bridge: a bridge without its own MAC takes its lowest port's
and changes it when a node's veth comes and goes (the other nodes' ARP entry for the host goes
stale and their ZooKeeper sessions expire), and a node with a new MAC after each power cycle
stalls the first connection to it for ~11 s (both measured, see the lab recipe).

Example::

    names = LabNames.for_dir(Path("/tmp/lab"), subnet=7)
    names.node_address(1)   # "10.213.7.11"
    names.netns("hv1")      # "pvl3f2a1-hv1"
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

SUPERNET = "10.213"
FIRST_NODE_HOST = 11  # node i gets .(10 + i)
MAX_NODES = 200


def node_name(index: int) -> str:
    return f"hv{index}"


def prefix_for(lab_dir: Path) -> str:
    digest = hashlib.sha256(os.fsencode(os.path.realpath(lab_dir))).hexdigest()
    return f"pvl{digest[:5]}"


def preferred_subnet(lab_dir: Path) -> int:
    """The third octet tried first for this directory (then the next free one)."""
    return 16 + int(hashlib.sha256(os.fsencode(os.path.realpath(lab_dir))).hexdigest()[5:9], 16) % 224


@dataclass(frozen=True)
class LabNames:
    prefix: str
    subnet: int  # third octet of 10.213.X.0/24

    @classmethod
    def for_dir(cls, lab_dir: Path, subnet: int) -> LabNames:
        return cls(prefix_for(lab_dir), subnet)

    @property
    def bridge(self) -> str:
        return self.prefix

    @property
    def cidr(self) -> str:
        return f"{SUPERNET}.{self.subnet}.0/24"

    @property
    def host_address(self) -> str:
        return f"{SUPERNET}.{self.subnet}.1"

    @property
    def bridge_mac(self) -> str:
        return f"02:00:0a:d5:{self.subnet:02x}:01"

    def node_address(self, index: int) -> str:
        return f"{SUPERNET}.{self.subnet}.{FIRST_NODE_HOST - 1 + index}"

    def node_mac(self, index: int) -> str:
        return f"02:00:0a:d5:{self.subnet:02x}:{FIRST_NODE_HOST - 1 + index:02x}"

    def veth_mac(self, index: int) -> str:
        """The host end's MAC (fixed too: the bridge's forwarding table stays right)."""
        return f"02:01:0a:d5:{self.subnet:02x}:{FIRST_NODE_HOST - 1 + index:02x}"

    def netns(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    def veth(self, index: int) -> str:
        return f"{self.prefix}v{index}"  # <= 15 characters (IFNAMSIZ) for up to 999 nodes
