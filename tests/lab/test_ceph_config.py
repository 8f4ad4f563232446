"""The lab's Ceph files: cephx keys as Ceph makes them, private keyrings, a conf bound to the one
address given, a fresh cluster in a reused directory, the libvirt secret XML; and a mon that
cannot bind failing ``start`` with its log line, leaving no daemon behind; a mon killed before it
listens costing one more start on another port; how a spawned child ended."""

from __future__ import annotations

import base64
import signal
import socket
import stat
import struct
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pvc.lab import ceph, cephsecret, guests, procs
from pvc.lab.errors import StartFailed
from pvc.lab.state import Ceph


def test_new_key_has_cephx_layout_and_ceph_reads_it(tmp_path: Path) -> None:
    raw = base64.b64decode(ceph.new_key())
    kind, _sec, nsec, length = struct.unpack("<HIIH", raw[:12])
    assert (kind, length, len(raw)) == (1, 16, 28) and nsec < 10**9
    assert ceph.new_key() != ceph.new_key()
    keyring = tmp_path / "k"
    key = ceph.new_key()
    keyring.write_text(ceph.keyring_entry("client.x", key, ("mon", "allow r")))
    out = subprocess.run(["ceph-authtool", str(keyring), "-n", "client.x", "--print-key"], check=True,
                         capture_output=True, text=True, timeout=30).stdout.strip()
    assert out == key  # Ceph's own tool parses what we wrote


def test_configure_writes_private_keyrings_and_a_conf_for_one_address(tmp_path: Path) -> None:
    root = tmp_path / "ceph"
    (root / "mon" / "a").mkdir(parents=True)
    (root / "mon" / "a" / "stale").write_text("an earlier cluster's store")
    cfg = ceph.configure(root, "10.213.7.1", 30000, pool="vms")
    assert not (root / "mon" / "a").exists()  # a fresh cluster, even in a reused directory
    assert (cfg.monitor, cfg.pool, cfg.conf) == ("10.213.7.1:30000", "vms", str(root / "ceph.conf"))
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    for name in ("keyring", "client.admin.keyring"):
        assert stat.S_IMODE((root / name).stat().st_mode) == 0o600
    client = Path(cfg.keyring).read_text()
    assert client.count("[") == 1 and client.startswith("[client.admin]")
    assert client.split("key = ")[1].split()[0] in (root / "keyring").read_text()
    conf = Path(cfg.conf).read_text()
    assert "mon host = [v2:10.213.7.1:30001,v1:10.213.7.1:30000]" in conf
    assert "public addr = 10.213.7.1" in conf and "ms bind port min = 30010" in conf
    paths = [w.split("=")[-1] for line in conf.splitlines() for w in line.split()
             if "/" in w and not line.startswith(("mon host", "public network"))]
    assert paths and all(p.startswith(str(root)) for p in paths), paths  # nothing written outside root
    assert f"keyring = {root}/client.admin.keyring" in conf.split("[client]")[1].split("[mon]")[0]
    assert ceph.configure(root, "10.213.7.1", 30000).secret_uuid != cfg.secret_uuid


def test_guest_disk_and_secret_xml() -> None:
    cfg = Ceph(dir="/d", conf="/d/ceph.conf", keyring="/d/k", monitor="10.213.7.1:30000", pool="vms",
               secret_uuid="6d644a12-bace-447e-9081-d473a7e1ee3a")
    assert guests.rbd_image("vm3") == "vm3-disk0"
    assert guests.rbd_disk(cfg, "vm3") == {"rbd": "vms/vm3-disk0", "monitors": ["10.213.7.1:30000"],
                                           "auth_user": "admin", "secret_uuid": cfg.secret_uuid}
    secret = ET.fromstring(cephsecret.secret_xml(cfg.secret_uuid))
    assert (secret.get("ephemeral"), secret.get("private")) == ("no", "yes")
    assert secret.findtext("uuid") == cfg.secret_uuid
    usage = secret.find("usage")
    assert usage is not None and usage.get("type") == "ceph" and usage.findtext("name") == cephsecret.USAGE


def test_a_mon_that_cannot_bind_fails_start_with_its_reason(tmp_path: Path) -> None:
    port = ceph.pick_port("127.0.0.1")
    with socket.socket() as taken:  # bound, not listening: the mon's bind fails, a connect is refused
        taken.bind(("127.0.0.1", port))
        cfg = ceph.configure(tmp_path / "ceph", "127.0.0.1", port)
        with pytest.raises(StartFailed, match=r"mon\.a \(pid \d+\) exited .*Address already in use"):
            ceph.start(cfg, tries=1)
    assert not [p for p in procs.all_pids() if cfg.conf in procs.cmdline(p) and procs.alive(p)
                and any(d in procs.cmdline(p) for d in ceph.PROGRAMS)]


def _kill_first_mon(conf: str, deadline_s: float = 30.0) -> None:
    """SIGKILL the first running (not --mkfs) ceph-mon of ``conf``: a mon lost before it listens."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for pid in procs.all_pids():
            line = procs.cmdline(pid)
            if "ceph-mon" in line and conf in line and "--mkfs" not in line:
                procs.signal_pid(pid, signal.SIGKILL)
                return
        time.sleep(0.001)


def test_a_mon_killed_before_it_listens_costs_one_more_start_on_another_port(tmp_path: Path) -> None:
    cfg = ceph.configure(tmp_path / "ceph", "127.0.0.1", ceph.pick_port("127.0.0.1"))
    killer = threading.Thread(target=_kill_first_mon, args=(cfg.conf,), daemon=True)
    killer.start()
    said: list[str] = []
    started = ceph.start(cfg, say=said.append)
    try:
        killer.join(timeout=5)
        assert len(said) == 1 and "mon.a" in said[0] and "killed by SIGKILL" in said[0], said
        assert started.monitor != cfg.monitor and started.secret_uuid != cfg.secret_uuid
        assert all(procs.alive(pid, cfg.conf) for pid in (started.mon_pid, started.mgr_pid, started.osd_pid))
    finally:
        assert ceph.stop(started)


def test_how_a_spawned_child_ended(tmp_path: Path) -> None:
    killed = procs.spawn(["sh", "-c", "kill -9 $$"], log=tmp_path / "a.log")
    failed = procs.spawn(["sh", "-c", "exit 3"], log=tmp_path / "b.log")
    running = procs.spawn(["sleep", "30"], log=tmp_path / "c.log")
    try:
        assert (procs.how_it_ended(killed), procs.how_it_ended(failed)) == ("killed by SIGKILL", "exit code 3")
        assert procs.how_it_ended(running, wait=0.1) == "" and procs.how_it_ended(1) == ""
    finally:
        procs.stop(running, "sleep")
