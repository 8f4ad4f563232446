"""pytest fixtures for the net backends (see tests/cluster/net.py).

``net_lab`` (session): a :class:`NetLab` owning namespaces and daemons, all removed at the end.
``netns`` (per test): a fresh namespace name (``lo`` up), removed after the test.
``pvc_functions`` (factory): ``pvc_functions(frr={...})`` -> a ``MinionFunctions`` with those
module configs, i.e. the ``pvc call`` code path.
``dhcp_lab`` (per module): server/client namespaces on a bridge, for dnsmasq (:class:`DhcpLab`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.cluster.net import NetLab, remove_netns


@pytest.fixture(scope="session")
def net_lab() -> Iterator[NetLab]:
    with NetLab() as lab:
        yield lab


@pytest.fixture
def netns(net_lab: NetLab) -> Iterator[str]:
    name = net_lab.netns(f"t{len(net_lab.namespaces)}")
    yield name
    remove_netns(name)
    net_lab.namespaces.remove(name)


@pytest.fixture
def pvc_functions() -> Iterator[Callable[..., Any]]:
    from pvc.config import MinionConfig
    from pvc.minion.functions import MinionFunctions

    made: list[MinionFunctions] = []

    def make(**modules: Any) -> MinionFunctions:
        funcs = MinionFunctions(MinionConfig(id="t", modules=modules), grains={})
        made.append(funcs)
        return funcs

    yield make
    for funcs in made:
        funcs.close()


@dataclass(frozen=True)
class DhcpLab:
    """A server namespace with bridge ``br0`` (10.50.0.1/24) and a client namespace whose
    ``eth0`` is a port of that bridge; ``run_dir`` is for the dnsmasq module's files."""

    lab: NetLab
    server: str
    client: str
    run_dir: str

    def lease(self, mac: str, hostname: str) -> subprocess.CompletedProcess[str]:
        """Ask for a lease from the client namespace with busybox udhcpc (about 0.1 s)."""
        self.lab.set_mac(self.client, "eth0", mac)
        script = os.path.join(self.run_dir, "udhcpc.sh")  # ours: the stock one would edit /etc/resolv.conf
        return self.lab.run(self.client, ["udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "1",
                                          "-x", f"hostname:{hostname}", "-s", script])


@pytest.fixture(scope="module")
def dhcp_lab(net_lab: NetLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DhcpLab]:
    server, client = net_lab.netns("dhcps"), net_lab.netns("dhcpc")
    net_lab.veth(server, "dp0", client, "eth0")
    net_lab.bridge(server, "br0", "10.50.0.1/24", ports=["dp0"])
    run_dir = str(tmp_path_factory.mktemp("dnsmasq"))
    script = os.path.join(run_dir, "udhcpc.sh")
    with open(script, "w") as fh:
        fh.write("#!/bin/sh\nexit 0\n")
    os.chmod(script, 0o755)
    yield DhcpLab(net_lab, server, client, run_dir)
    for ns in (client, server):
        remove_netns(ns)
        net_lab.namespaces.remove(ns)


@dataclass(frozen=True)
class FrrNode:
    """One simulated router: namespace, underlay address (also its VTEP), FRR instance dir."""

    ns: str
    ip: str
    dir: str

    @property
    def module_config(self) -> dict[str, Any]:
        """The ``modules: {frr: ...}`` section that points the frr module at this instance."""
        return {"config_dir": self.dir, "run_dir": self.dir, "vty_socket": self.dir, "timeout": 20.0}


@pytest.fixture(scope="module")
def frr_pair(net_lab: NetLab) -> Iterator[tuple[FrrNode, FrrNode]]:
    """Two namespaces joined by a veth (10.0.12.1/24 <-> 10.0.12.2/24), each with br100 + vx100
    (VNI 100, VTEP = its underlay address) and its own zebra + bgpd, not yet configured."""
    nodes = []
    namespaces = [net_lab.netns("r1"), net_lab.netns("r2")]
    net_lab.veth(namespaces[0], "u1", namespaces[1], "u2")
    for i, ns in enumerate(namespaces, start=1):
        ip = f"10.0.12.{i}"
        net_lab.run(ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"])  # a router
        net_lab.address(ns, f"u{i}", f"{ip}/24")
        net_lab.bridge(ns, "br100", f"192.168.100.{i}/24")
        net_lab.vxlan(ns, "vx100", 100, ip, "br100")
        nodes.append(FrrNode(ns, ip, net_lab.frr(ns)))
    yield nodes[0], nodes[1]
    for ns in namespaces:
        remove_netns(ns)
        net_lab.namespaces.remove(ns)
