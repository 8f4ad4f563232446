"""frr.config against a real FRR instance and dnsmasq.network against a real dnsmasq, each in
namespaces the fixtures create; pkgrepo.managed on a sources file in a temp dir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pvc.config import MinionConfig
from pvc.minion.functions import MinionFunctions
from tests.cluster.net_fixtures import DhcpLab, FrrNode
from tests.states.conftest import GRAINS, Tree, converge


def tree_for(root: Path, **modules: Any) -> Tree:
    root.mkdir()
    return Tree(root, funcs=MinionFunctions(MinionConfig(id="node1", grains=GRAINS, modules=modules), grains=GRAINS))


def test_frr_config_renders_reloads_and_converges(tmp_path: Path, frr_pair: tuple[FrrNode, FrrNode]) -> None:
    r1, r2 = frr_pair
    tree = tree_for(tmp_path / "srv", frr=r1.module_config)
    tree.write({"frr.sls": "frr-evpn:\n  frr.config:\n    - asn: 65000\n    - router_id: {{ pillar.me }}\n"
                           "    - peers:\n      - address: {{ pillar.peer }}\n        remote_as: 65000\n"})
    try:
        converge(tree, "frr", pillar={"me": r1.ip, "peer": r2.ip})
        running = tree.funcs.call("frr.running_config").data
        assert f"neighbor {r2.ip} remote-as 65000" in running
    finally:
        tree.funcs.close()


def test_dnsmasq_network_starts_once(tmp_path: Path, dhcp_lab: DhcpLab) -> None:
    tree = tree_for(tmp_path / "srv", dnsmasq={"run_dir": dhcp_lab.run_dir})
    tree.write({"dhcp.sls": f"vnetst:\n  dnsmasq.network:\n    - bridge: br0\n    - range_start: 10.50.0.160\n"
                            f"    - range_end: 10.50.0.170\n    - netmask: 255.255.255.0\n"
                            f"    - netns: {dhcp_lab.server}\n"})
    try:
        converge(tree, "dhcp")
        assert tree.funcs.call("dnsmasq.status", ["vnetst"]).data["running"] is True
    finally:
        tree.funcs.call("dnsmasq.stop", ["vnetst"])
        tree.funcs.close()


def test_pkgrepo_managed_writes_the_line_once(tree: Tree, tmp_path: Path) -> None:
    sources = tmp_path / "pvc.list"
    line = "deb [signed-by=/usr/share/keyrings/pvc.gpg] https://repo.example/pvc bookworm main"
    tree.write({"repo.sls": f"{json.dumps(line)}:\n  pkgrepo.managed:\n    - file: {sources}\n    - refresh: False\n"})
    converge(tree, "repo")
    assert sources.read_text() == line + "\n"
