"""lab.json: typed round trip, private and atomic writes, changes under the lock, clear errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from pvc.errors import ConfigError
from pvc.lab import state
from pvc.lab.errors import LabNotFound, UnknownNode
from pvc.lab.state import Bmc, Lab, Node, ZooKeeper


def _lab(d: Path) -> Lab:
    bmc = Bmc(host="127.0.0.1", port=16231, user="admin", password_file=str(d / "pw"), dir=str(d / "bmc"))
    node = Node(name="hv1", index=1, netns="pvlx-hv1", veth="pvlxv1", address="10.213.7.11",
                mac="02:00:0a:d5:07:0b", dir=str(d / "hv1"), minion_config_dir=str(d / "hv1" / "minion"),
                libvirt_uri="qemu+unix:///system?socket=/x", libvirt_tcp_uri="qemu+tcp://10.213.7.11/system", bmc=bmc)
    return Lab(dir=str(d), prefix="pvlx", bridge="pvlx", subnet="10.213.7.0/24", host_address="10.213.7.1",
               bridge_mac="02:00:0a:d5:07:01", started=1.5, zookeeper=ZooKeeper(hosts="10.213.7.1:2181"),
               nodes=(node,))


def test_round_trip_is_private(tmp_path: Path) -> None:
    lab = _lab(tmp_path)
    state.save(lab)
    assert stat.S_IMODE((tmp_path / "lab.json").stat().st_mode) == 0o600
    assert state.load(tmp_path) == lab
    assert [p.name for p in tmp_path.iterdir()] == ["lab.json"]  # no temporary file left


def test_update_node_under_the_lock(tmp_path: Path) -> None:
    state.save(_lab(tmp_path))
    state.update_node(tmp_path, "hv1", power="on", init_pid=42)
    node = state.load(tmp_path).node("hv1")
    assert (node.power, node.init_pid) == ("on", 42)
    with pytest.raises(UnknownNode, match="no node 'hv9'.*hv1"):
        state.load(tmp_path).node("hv9")


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(LabNotFound, match="pvc lab up --dir"):
        state.load(tmp_path)
    state.save(_lab(tmp_path))
    data = json.loads((tmp_path / "lab.json").read_text())
    (tmp_path / "lab.json").write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(ConfigError, match="version 99"):
        state.load(tmp_path)
    (tmp_path / "lab.json").write_text(json.dumps({**data, "surprise": 1}))
    with pytest.raises(ConfigError, match="surprise"):
        state.load(tmp_path)
