"""``pvc lab up --ceph`` on real processes: a memstore Ceph on the bridge address, recorded in
lab.json with a private keyring; guests on RBD images whose lock their QEMU holds from inside
their node (seen through the minions' ``ceph`` module, as the runners see it); an RBD-backed VM
flushed live to another node by the cluster's runners and made ready back, its lock and its
ticks following it; the node holding it fenced after a power cut, its lock blocklisted and broken
and the VM recovered elsewhere; ``lab down`` stopping Ceph with the rest. One lab for the module (2 nodes, 2 guests); the tests
run in file order and the last one takes it down.
"""

from __future__ import annotations

import json
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pvc.client import Client
from pvc.lab import ceph, guests, procs, state
from pvc.virt.domain import domain_xml, parse_spec
from tests.cluster.wait import wait_for
from tests.lab.conftest import RunningLab, pvc, running_lab
from tests.runners.conftest import ticks

pytestmark = pytest.mark.timeout(420)
BOOT_TIMEOUT = 240  # a TCG guest boots in ~15 s on a quiet box; 2 cores shared by 6 engineers are not quiet


@pytest.fixture(scope="module")
def ceph_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    with running_lab(tmp_path_factory, "cephlab", nodes=2, vms=2, ceph=True) as running:
        yield running


def _lockers(client: Client, image: str) -> list[str]:
    """Addresses holding a lock on ``vms/<image>``, asked through hv2's minion (``ceph.lock_list``;
    hv2 is never powered off here)."""
    ret = client.run(["hv2"], "ceph.lock_list", ["vms", image], timeout=20).returns["hv2"]
    assert ret.ok, ret.error
    return [lock["address"] for lock in ret.data]


def _held_from(client: Client, image: str, address: str) -> bool:
    return any(a.startswith(f"{address}:") for a in _lockers(client, image))


def _qemus(lab: RunningLab, vm: str) -> dict[str, list[int]]:
    """Node -> PIDs of QEMU processes running ``vm`` there."""
    return {n["name"]: [p for p in procs.in_pid_namespace(n["init_pid"])
                        if "qemu-system" in procs.cmdline(p) and f"guest={vm}," in procs.cmdline(p)]
            for n in lab.json()["nodes"]}


def test_up_records_a_private_ceph(ceph_lab: RunningLab) -> None:
    print(f"\nlab up --ceph (2 nodes, 1 master, 2 VMs): {ceph_lab.up_seconds:.1f} s wall, "
          f"{ceph_lab.up.stdout.splitlines()[0]}")
    assert "Traceback" not in ceph_lab.up.stderr
    data = ceph_lab.json()
    cfg = state.load(ceph_lab.dir).ceph
    assert cfg is not None and data["ceph"]["pool"] == "vms" == cfg.pool
    assert cfg.monitor.rsplit(":", 1)[0] == data["host_address"]  # on the bridge: every node reaches it
    assert Path(cfg.conf).is_file() and Path(cfg.conf).parent == ceph_lab.dir / "ceph"
    for pid in ceph.daemons(cfg).values():
        assert procs.alive(pid, cfg.conf)
    assert (ceph_lab.dir / "ceph" / "log" / "ceph.audit.log").is_file()  # the mon's logs in DIR, not /var/log/ceph
    keyring = Path(cfg.keyring)
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    assert stat.S_IMODE((ceph_lab.dir / "ceph" / "keyring").stat().st_mode) == 0o600
    text = keyring.read_text()
    assert text.count("[") == 1 and "[client.admin]" in text  # the client's key only, no daemon keys
    key = text.split("key = ", 1)[1].split()[0]
    assert key not in (ceph_lab.dir / "lab.json").read_text()
    for pid in procs.all_pids():  # never on a command line (QEMU gets it wrapped by libvirt's master key)
        assert key not in procs.cmdline(pid)
    for node in data["nodes"]:
        minion = yaml.safe_load(Path(node["minion_config_dir"], "minion").read_text())
        assert minion["modules"]["ceph"] == {"conf": cfg.conf, "keyring": cfg.keyring}  # what runners reach RBD by


def test_every_libvirtd_holds_the_secret_privately(ceph_lab: RunningLab) -> None:
    import libvirt

    cfg = state.load(ceph_lab.dir).ceph
    assert cfg is not None
    for node in ceph_lab.json()["nodes"]:
        conn = libvirt.open(node["libvirt_uri"])
        try:
            secret = conn.secretLookupByUUIDString(cfg.secret_uuid)
            assert secret.usageType() == libvirt.VIR_SECRET_USAGE_TYPE_CEPH
            with pytest.raises(libvirt.libvirtError):  # private: libvirt never hands the key out
                secret.value()
        finally:
            conn.close()


def test_status_shows_ceph_running(ceph_lab: RunningLab) -> None:
    proc = pvc("lab", "status", "--dir", str(ceph_lab.dir), "--out", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    st = json.loads(proc.stdout)
    rows = {c["name"]: c["state"] for c in st["components"] if c["kind"] == "ceph"}
    assert rows == {"mon.a": "running", "mgr.x": "running", "osd.0": "running"}
    assert st["ceph"]["pool"] == "vms"


def test_guests_run_on_rbd_and_hold_their_lock(ceph_lab: RunningLab) -> None:
    addresses = {n["name"]: n["address"] for n in ceph_lab.json()["nodes"]}
    with Client(ceph_lab.master_dir) as client:
        images = client.cmd(["hv2"], "ceph.volume_list", ["vms"], timeout=20)["hv2"]
        assert sorted(i["name"] for i in images) == ["vm1-disk0", "vm2-disk0"]
        info = client.cmd(["hv1"], "virt.info", ["vm1"], timeout=20)["hv1"]
        assert info["state"] == "running" and info["disks"] == ["vda"]
        for vm in ("vm1", "vm2"):
            node = next(v["node"] for v in ceph_lab.json()["vms"] if v["name"] == vm)
            wait_for(lambda vm=vm, node=node: _held_from(client, guests.rbd_image(vm), addresses[node]),
                     BOOT_TIMEOUT, f"{vm}'s QEMU on {node} to lock its image", every=1.0)


@pytest.fixture
def rbd_vm(ceph_lab: RunningLab) -> Iterator[str]:
    """VM ``r1``: a lab guest on a new RBD image, recorded in the cluster (``pvc vm define``) on hv1."""
    cfg = state.load(ceph_lab.dir).ceph
    assert cfg is not None
    with Client(ceph_lab.master_dir) as client:
        made = client.run(["hv1"], "ceph.volume_create", ["vms", guests.rbd_image("r1"), guests.DISK_SIZE], timeout=30)
        assert made.returns["hv1"].ok, made.returns["hv1"].error
    xml = ceph_lab.dir / "r1.xml"
    xml.write_text(domain_xml(parse_spec(guests.spec("r1", cfg)), str(ceph_lab.dir / "console")))
    proc = pvc("-c", ceph_lab.master_dir, "vm", "define", str(xml), "--node", "hv1", "--migration-method", "live")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield "r1"


def _vm_row(lab: RunningLab, name: str) -> dict[str, Any]:
    proc = pvc("-c", lab.master_dir, "vm", "list", "--out", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return next(r for r in json.loads(proc.stdout) if r["name"] == name)


def test_flush_moves_an_rbd_vm_live_with_its_lock(ceph_lab: RunningLab, rbd_vm: str) -> None:
    addresses = {n["name"]: n["address"] for n in ceph_lab.json()["nodes"]}
    image = guests.rbd_image(rbd_vm)
    with Client(ceph_lab.master_dir) as client:
        wait_for(lambda: _held_from(client, image, addresses["hv1"]), BOOT_TIMEOUT,
                 f"{rbd_vm}'s QEMU on hv1 to lock {image}", every=1.0)
        wait_for(lambda: len(ticks(ceph_lab.dir, rbd_vm)[1]) >= 2, 60, f"{rbd_vm} to tick")
        (source_qemu,) = _qemus(ceph_lab, rbd_vm)["hv1"]
        t0 = time.monotonic()
        proc = pvc("-c", ceph_lab.master_dir, "node", "flush", "hv1", "--wait", "--out", "json", timeout=300)
        flush_s = time.monotonic() - t0
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert _vm_row(ceph_lab, rbd_vm)["node"] == "hv2"
        assert not procs.alive(source_qemu)
        assert len(_qemus(ceph_lab, rbd_vm)["hv2"]) == 1 and not _qemus(ceph_lab, rbd_vm)["hv1"]
        wait_for(lambda: _held_from(client, image, addresses["hv2"]), 60, f"the lock of {image} to move to hv2",
                 every=0.5)
        assert not _held_from(client, image, addresses["hv1"])
    before = len(ticks(ceph_lab.dir, rbd_vm)[1])
    wait_for(lambda: len(ticks(ceph_lab.dir, rbd_vm)[1]) >= before + 2, 60, f"{rbd_vm} to tick on hv2")
    boots, numbers = ticks(ceph_lab.dir, rbd_vm)
    assert boots == 1 and numbers == list(range(len(numbers))), f"the guest restarted or skipped ticks: {numbers}"
    print(f"\nflush of an RBD-backed VM hv1 -> hv2: {flush_s:.1f} s (CLI, plan to done); lock now on hv2")


def test_ready_brings_it_back_live_with_its_lock(ceph_lab: RunningLab) -> None:
    addresses = {n["name"]: n["address"] for n in ceph_lab.json()["nodes"]}
    proc = pvc("-c", ceph_lab.master_dir, "node", "ready", "hv1", "--wait", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _vm_row(ceph_lab, "r1")["node"] == "hv1"
    with Client(ceph_lab.master_dir) as client:
        wait_for(lambda: _held_from(client, "r1-disk0", addresses["hv1"]), 60, "the lock of r1-disk0 back on hv1",
                 every=0.5)
    boots, numbers = ticks(ceph_lab.dir, "r1")
    assert boots == 1 and numbers == list(range(len(numbers))), f"the guest restarted or skipped ticks: {numbers}"


def test_fencing_breaks_a_dead_nodes_lock_and_recovers_its_rbd_vm(ceph_lab: RunningLab) -> None:
    """The runners' RBD plumbing on real Ceph: hv1 loses power holding r1's lock; the primary
    fences hv1 through its BMC, blocklists and breaks the lock (``ceph.lock_list``/``lock_break``
    jobs on a live node, the minions' ceph module) and starts r1 on hv2, whose QEMU then takes
    the lock."""
    cfg = state.load(ceph_lab.dir).ceph
    assert cfg is not None
    addresses = {n["name"]: n["address"] for n in ceph_lab.json()["nodes"]}
    with Client(ceph_lab.master_dir) as client:
        (dead_holder,) = _lockers(client, "r1-disk0")
        assert dead_holder.startswith(f"{addresses['hv1']}:")
        t0 = time.monotonic()
        off = pvc("lab", "power", "hv1", "off", "--dir", str(ceph_lab.dir))
        assert off.returncode == 0, off.stdout + off.stderr
        wait_for(lambda: _vm_row(ceph_lab, "r1")["node"] == "hv2" and _vm_row(ceph_lab, "r1")["state"] == "running",
                 120, "r1 recovered on hv2", every=1.0)
        recovered_s = time.monotonic() - t0
        with ceph.admin(cfg) as admin:
            ret, out, err = admin.mon_command(json.dumps({"prefix": "osd blocklist ls", "format": "json"}), b"")
        assert ret == 0 and dead_holder in out.decode(), (err, out)  # the dead QEMU can never write again
        wait_for(lambda: _held_from(client, "r1-disk0", addresses["hv2"]), BOOT_TIMEOUT,
                 "r1's new QEMU on hv2 to lock r1-disk0", every=1.0)
        assert _lockers(client, "r1-disk0") != [dead_holder]
    assert len(_qemus(ceph_lab, "r1")["hv2"]) == 1
    print(f"\npower cut of hv1 -> r1 running on hv2 {recovered_s:.1f} s later, its lock broken and retaken")


def test_down_stops_ceph_and_leaves_nothing(ceph_lab: RunningLab) -> None:
    cfg = state.load(ceph_lab.dir).ceph
    assert cfg is not None
    pids = list(ceph.daemons(cfg).values())
    t0 = time.monotonic()
    proc = pvc("lab", "down", "--dir", str(ceph_lab.dir))
    print(f"\nlab down (with Ceph) {time.monotonic() - t0:.2f} s: {proc.stdout.strip()}")
    assert proc.returncode == 0 and "CLEAN" in proc.stdout, proc.stdout + proc.stderr
    assert not [p for p in pids if procs.alive(p)]
    ps = subprocess.run(["ps", "-eo", "args"], check=True, capture_output=True, text=True).stdout
    assert cfg.conf not in ps
