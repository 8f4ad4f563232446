"""``pvc cluster`` and ``pvc node`` against a real ZooKeeper."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pvc.cli.main import cli
from pvc.cluster.election import PrimaryElection
from pvc.cluster.keepalive import NodeKeepalive
from pvc.cluster.records import NodeRecord, NodeResources, VMRecord, VMState
from pvc.cluster.store import ClusterStore


def _pvc(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_init_status_maintenance_node_list(zk_hosts: str, zk_root: str) -> None:
    zk = ["--zk", zk_hosts, "--zk-root", zk_root]
    code, out = _pvc("cluster", "init", *zk)
    assert code == 0 and "schema v2" in out
    code, out = _pvc("cluster", "init", *zk)
    assert code == 2 and "already exists" in out

    from pvc.cluster.client import connect

    with connect(zk_hosts, session_timeout=2.0) as cc:
        store = ClusterStore.open(cc, zk_root)
        with store.batch() as b:
            b.put_vm(VMRecord("web1", "<domain/>", node="hv1"), None)
            b.put_vm(VMRecord("web2", "<domain/>", desired_state=VMState.STOP), None)
            b.put_node(NodeRecord("hv9"), None)  # registered once, never beat
        ka = NodeKeepalive(store, "hv1", lambda: NodeResources(16384, 2048, 4096, 6, 0.25, ("web1",)),
                           interval=0.5)
        ka.start()
        el = PrimaryElection(store, "master-a")
        el.start()
        assert el.gained.wait(10)
        try:
            env = {"PVC_ZOOKEEPER": zk_hosts, "PVC_ZK_ROOT": zk_root}
            code, out = _pvc("cluster", "status", "--out", "json", env=env)
            assert code == 0, out
            view = json.loads(out)
            assert view["schema_version"] == 2 and view["maintenance"] is False
            assert view["primary"]["id"] == "master-a" and view["primary"]["live"] is True
            assert view["vms"] == {"total": 2, "by_desired_state": {"start": 1, "stop": 1},
                                   "unplaced": 1}
            nodes = {n["name"]: n for n in view["nodes"]}
            assert nodes["hv1"]["state"] == "run" and nodes["hv1"]["vms"] == 1
            assert nodes["hv1"]["keepalive_age"] < 2.0
            assert nodes["hv1"]["resources"]["memory_free"] == 14336
            assert nodes["hv9"]["state"] == "init" and nodes["hv9"]["keepalive_age"] is None

            code, out = _pvc("cluster", "maintenance", "on", *zk)
            assert code == 0 and store.config().record.maintenance is True
            code, out = _pvc("cluster", "status", *zk)
            assert code == 0 and "primary master-a, maintenance on" in out and "VMs: 2" in out

            code, out = _pvc("node", "list", *zk)
            assert code == 0, out
            lines = out.splitlines()
            assert lines[0].split()[:4] == ["NODE", "STATE", "DOMAIN", "VMS"]
            assert lines[1].split()[:4] == ["hv1", "run", "ready", "1"]
            assert lines[2].split()[:4] == ["hv9", "init", "ready", "0"]
            code, out = _pvc("node", "info", "hv1", "--out", "json", *zk)
            info = json.loads(out)
            assert info["vm_names"] == ["web1"] and info["resources"]["running_vms"] == ["web1"]
            code, out = _pvc("node", "info", "hv1", *zk)
            assert "Node hv1: run" in out and "VMs placed: 1 web1" in out
            code, out = _pvc("node", "info", "nosuch", *zk)
            assert code == 2 and "no znode" in out
        finally:
            el.stop()
            ka.stop()


def test_uninitialised_and_unconfigured_are_one_line_errors(zk_hosts: str, zk_root: str) -> None:
    code, out = _pvc("cluster", "status", "--zk", zk_hosts, "--zk-root", zk_root)
    assert code == 2 and "pvc cluster init" in out
    code, out = _pvc("-c", "/nonexistent", "node", "list", env={"PVC_ZOOKEEPER": ""})
    assert code == 2 and "no ZooKeeper configured" in out
