"""``pvc lab`` end to end on real processes and namespaces: up (3 nodes, 1 master, 2 VMs), every
minion answering through the master, VMs running where they were placed, a BMC power cut killing
exactly one node (minion, libvirtd, QEMU) and power-on bringing it back, and ``down`` leaving
nothing behind. One lab for the module; the tests run in file order and the last one takes it down.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pvc.client import Client
from pvc.lab import procs
from tests.cluster.wait import wait_for
from tests.lab.conftest import RunningLab, pvc

pytestmark = pytest.mark.timeout(240)


def _ping(client: Client, nodes: list[str], timeout: float = 3) -> dict[str, object]:
    result = client.run(nodes, "test.ping", timeout=timeout)
    return {mid: ret.data for mid, ret in result.returns.items() if ret.ok}


def _qemu_pids(node: dict) -> list[int]:
    return [p for p in procs.in_pid_namespace(node["init_pid"]) if "qemu-system" in procs.cmdline(p)]


def test_up_is_fast_and_records_what_runs(lab: RunningLab) -> None:
    print(f"\nlab up (3 nodes, 1 master, 2 VMs): {lab.up_seconds:.1f} s wall, {lab.up.stdout.splitlines()[0]}")
    assert lab.up_seconds < 60
    assert "Traceback" not in lab.up.stderr
    assert stat.S_IMODE(os.stat(lab.dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(lab.dir / "lab.json").st_mode) == 0o600
    data = lab.json()
    assert [n["name"] for n in data["nodes"]] == ["hv1", "hv2", "hv3"]
    assert data["vms"] == [{"name": "vm1", "node": "hv1"}, {"name": "vm2", "node": "hv2"}]
    for node in data["nodes"]:
        for key in ("init_pid", "minion_pid", "libvirtd_pid"):
            assert procs.alive(node[key]), (node["name"], key)
        assert procs.alive(node["bmc"]["pid"], "ipmi_sim")
        pw_file = Path(node["bmc"]["password_file"])
        assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
        password = pw_file.read_text().strip()
        assert password and password not in (lab.dir / "lab.json").read_text()
        for pid in procs.all_pids():  # never on a command line
            assert password not in procs.cmdline(pid)
    assert all(procs.alive(m["pid"]) for m in data["masters"])
    assert all(procs.alive(s["pid"]) for s in data["zookeeper"]["servers"])


def test_minions_answer_and_vms_run_where_placed(lab: RunningLab) -> None:
    with Client(lab.master_dir) as client:
        assert _ping(client, ["hv1", "hv2", "hv3"]) == {"hv1": True, "hv2": True, "hv3": True}
        listed = client.cmd(["hv1", "hv2", "hv3"], "virt.list", timeout=10)
    assert [(d["name"], d["state"]) for d in listed["hv1"]] == [("vm1", "running")]
    assert [(d["name"], d["state"]) for d in listed["hv2"]] == [("vm2", "running")]
    assert listed["hv3"] == []
    import libvirt

    for name in ("hv1", "hv2"):  # lab.json's URIs reach that node's own libvirtd from the host
        node = lab.node(name)
        for uri in (node["libvirt_uri"], node["libvirt_tcp_uri"]):
            conn = libvirt.open(uri)
            try:
                assert conn.getHostname() == name
            finally:
                conn.close()
        assert len(_qemu_pids(node)) == 1


def test_status_shows_everything_running(lab: RunningLab) -> None:
    proc = pvc("lab", "status", "--dir", str(lab.dir), "--out", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    st = json.loads(proc.stdout)
    assert st["all_running"]
    kinds = [c["kind"] for c in st["components"]]
    assert kinds.count("minion") == 3 and kinds.count("bmc") == 3 and kinds.count("master") == 1


@pytest.fixture
def no_fencing(lab: RunningLab) -> Iterator[None]:
    """Cluster maintenance for a test that cuts a node's power itself: the primary would fence
    the dead node (power it off again, after the test powered it on)."""
    _maintenance(lab, "on")
    yield
    _maintenance(lab, "off")


def _maintenance(lab: RunningLab, mode: str) -> None:
    proc = pvc("-c", lab.master_dir, "cluster", "maintenance", mode)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_power_off_kills_the_node_and_on_brings_it_back(lab: RunningLab, no_fencing: None) -> None:
    before = lab.node("hv2")
    others = {n: lab.node(n)["init_pid"] for n in ("hv1", "hv3")}
    (qemu,) = _qemu_pids(before)
    node_pids = procs.in_pid_namespace(before["init_pid"])
    t0 = time.monotonic()
    off = pvc("lab", "power", "hv2", "off", "--dir", str(lab.dir))
    off_s = time.monotonic() - t0
    assert off.returncode == 0 and "off" in off.stdout.lower(), off.stdout + off.stderr
    gone_s = None
    for _ in range(200):  # synchronous power-off: gone when the command returns (allow a zombie's reaping)
        if not any(procs.alive(p) for p in [qemu, before["minion_pid"], before["libvirtd_pid"], *node_pids]):
            gone_s = time.monotonic() - t0
            break
        time.sleep(0.005)
    assert gone_s is not None, "hv2's processes survived its power-off"
    assert all(procs.alive(pid) for pid in others.values()), "a power cut of hv2 touched another node"
    assert "off" in pvc("lab", "power", "hv2", "status", "--dir", str(lab.dir)).stdout
    assert not Path(f"/run/netns/{before['netns']}").exists()
    st = pvc("lab", "status", "--dir", str(lab.dir), "--out", "json")
    assert st.returncode == 0, st.stdout  # off is not dead
    rows = {(c["kind"], c["name"]): c["state"] for c in json.loads(st.stdout)["components"]}
    assert rows[("node", "hv2")] == "off" and ("minion", "hv2") not in rows and rows[("bmc", "hv2")] == "running"
    with Client(lab.master_dir) as client:
        assert _ping(client, ["hv1", "hv2", "hv3"], timeout=2) == {"hv1": True, "hv3": True}
        t1 = time.monotonic()
        on = pvc("lab", "power", "hv2", "on", "--dir", str(lab.dir))
        assert on.returncode == 0 and "on" in on.stdout.lower(), on.stdout + on.stderr
        wait_for(lambda: _ping(client, ["hv2"], timeout=1) == {"hv2": True}, 60, "hv2's minion back")
        back_s = time.monotonic() - t1
        listed = client.cmd(["hv2"], "virt.list", timeout=10)
    after = lab.node("hv2")
    assert after["power"] == "on" and after["init_pid"] != before["init_pid"] and procs.alive(after["init_pid"])
    assert [(d["name"], d["state"]) for d in listed["hv2"]] == [("vm2", "shutoff")]  # defined, not running
    print(f"\npower off command {off_s:.2f} s (QEMU, minion, libvirtd gone after {gone_s:.2f} s); "
          f"power on -> minion answers {back_s:.2f} s")


def test_up_refuses_a_dir_with_a_running_lab(lab: RunningLab) -> None:
    proc = pvc("lab", "up", "--dir", str(lab.dir), "--nodes", "1")
    assert proc.returncode == 2
    assert "already up" in proc.stderr and "Traceback" not in proc.stderr


def test_down_leaves_nothing(lab: RunningLab) -> None:
    data = lab.json()
    pids = [s["pid"] for s in data["zookeeper"]["servers"]] + [m["pid"] for m in data["masters"]]
    pids += [data["ceph"][f"{d}_pid"] for d in ("mon", "mgr", "osd")]  # the module's lab runs --ceph
    for n in data["nodes"]:
        pids += [n["init_pid"], n["unshare_pid"], n["minion_pid"], n["libvirtd_pid"], n["bmc"]["pid"]]
        pids += procs.in_pid_namespace(n["init_pid"])
    t0 = time.monotonic()
    proc = pvc("lab", "down", "--dir", str(lab.dir))
    print(f"\nlab down {time.monotonic() - t0:.2f} s: {proc.stdout.strip()}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "CLEAN" in proc.stdout
    assert not [p for p in pids if procs.alive(p)]
    prefix = data["prefix"]
    assert prefix not in subprocess.run(["ip", "netns", "list"], check=False, capture_output=True, text=True).stdout
    assert prefix not in subprocess.run(["ip", "-o", "link"], check=False, capture_output=True, text=True).stdout
    mounts = Path("/proc/mounts").read_text()
    assert str(lab.dir) not in mounts and prefix not in mounts
    assert not (lab.dir / "lab.json").exists()
