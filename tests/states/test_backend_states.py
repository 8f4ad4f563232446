"""pvc's own states over the real backends: network.* in a namespace the test creates, virt on a
real libvirtd + QEMU, ceph/rbd on the memstore cluster. Test mode changes nothing; a second run
reports no changes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pvc.config import MinionConfig
from pvc.minion.functions import MinionFunctions
from tests.cluster.ceph import CephCluster
from tests.states.conftest import GRAINS, Tree, converge


def test_network_states_in_a_namespace(tree: Tree, netns: str) -> None:
    tree.write({"net.sls": f"""
br100:
  network.bridge:
    - netns: {netns}
10.100.0.1/24:
  network.address:
    - interface: br100
    - netns: {netns}
    - require:
      - network: br100
vx100:
  network.vxlan:
    - vni: 100
    - local: 10.100.0.1
    - bridge: br100
    - netns: {netns}
    - require:
      - network: 10.100.0.1/24
10.200.0.0/16:
  network.route:
    - interface: br100
    - netns: {netns}
    - require:
      - network: 10.100.0.1/24
""", "typo.sls": f"br9:\n  network.bridge:\n    - netns: {netns}\n    - colour: blue\n"})
    links = lambda: [link["name"] for link in tree.funcs.call("network.links", [], {"netns": netns}).data]
    before = links()
    converge(tree, "net", plan="first")
    assert "br100" not in before
    assert {"br100", "vx100"} <= set(links())
    assert "10.100.0.1/24" in str(tree.funcs.call("network.addresses", [], {"interface": "br100", "netns": netns}).data)
    assert "10.200.0.0/16" in str(tree.funcs.call("network.routes", [], {"netns": netns}).data)
    bad = tree.run("typo")
    assert bad.results[0].result.result is False and "colour" in bad.results[0].result.comment


def test_virt_defined_and_running_on_real_libvirt(tmp_path: Path, virt_node: Callable[..., Any]) -> None:
    node = virt_node("h1")
    tree = Tree(tmp_path / "srv", funcs=node.functions)
    tree.root.mkdir()
    tree.write({"vm.sls": "stvm1:\n  virt.defined:\n    - vcpus: 1\n    - memory: 64\n"
                          "stvm1-run:\n  virt.running:\n    - name: stvm1\n    - require:\n      - virt: stvm1\n"})
    converge(tree, "vm")
    assert [(d["name"], d["state"]) for d in node.call("virt.list")] == [("stvm1", "running")]


def test_ceph_pool_and_rbd_volume(tmp_path: Path, ceph_cluster: CephCluster) -> None:
    funcs = MinionFunctions(MinionConfig(id="node1", modules={"ceph": {"conf": ceph_cluster.conf}}), grains=GRAINS)
    tree = Tree(tmp_path / "srv", funcs=funcs)
    tree.root.mkdir()
    pool = f"st-{tmp_path.name[-6:].lower()}"
    tree.write({"ceph.sls": f"{pool}:\n  ceph.pool_present:\n    - pg_num: 8\n"
                            f"vm1-disk0:\n  rbd.volume_present:\n    - pool: {pool}\n    - size: 64M\n"
                            f"    - require:\n      - ceph: {pool}\n"})
    try:
        converge(tree, "ceph")
        assert [v["name"] for v in funcs.call("ceph.volume_list", [pool]).data] == ["vm1-disk0"]
    finally:
        ceph_cluster.remove_pool(pool)
        funcs.close()
