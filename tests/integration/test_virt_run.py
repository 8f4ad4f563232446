"""virt end to end: `pvc run` through a real master to minions driving two real libvirtd hosts;
a guest that really runs (the tiny TCG kernel printing ``tick N``) live-migrates from hv1 to hv2,
keeps ticking without a gap, and its lifecycle events reach the event bus."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.cluster.libvirt import guest_spec, serial_ticks
from tests.cluster.pvc import PvcCluster
from tests.cluster.wait import wait_for


def _ticks(c: PvcCluster, minion: str) -> list[int]:
    out = c.pvc("run", minion, "virt.console_log", "e2e", "200", "--out", "json")
    lines = json.loads(out.stdout)[minion] if out.returncode == 0 else []
    return serial_ticks(lines)


def test_pvc_run_virt_migrate(pvc_cluster: PvcCluster, libvirt_hosts, tmp_path):
    c = pvc_cluster
    c.start_master()
    for mid, host in (("hv1", "h1"), ("hv2", "h2")):
        c.add_minion(mid, grains={"role": "hypervisor"},
                     modules={"virt": {"uri": libvirt_hosts[host].uri, "console_dir": str(tmp_path / mid),
                                       "migration_host": "127.0.0.1"}})
    c.wait_connected()
    listener = subprocess.Popen(
        [sys.executable, "-m", "pvc.cli.main", "event", "listen", "-c", str(c.master_dir), "pvc/vm/e2e/*",
         "--out", "json", "--count", "3", "--timeout", "90"], stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    spec = [f"{key}={value}" for key, value in guest_spec("e2e", ticking=True).items()]
    try:
        run = c.pvc("run", "hv1", "virt.define", *spec, "migration=live", "--out", "json")
        assert run.returncode == 0, run.stdout + run.stderr
        assert c.pvc("run", "hv1", "virt.start", "e2e").returncode == 0
        wait_for(lambda: len(_ticks(c, "hv1")) >= 2, 90, "the TCG guest to print tick 1")
        mig = c.pvc("run", "hv1", "virt.migrate", "e2e", libvirt_hosts["h2"].uri, "--out", "json", "--timeout", "60")
        assert mig.returncode == 0, mig.stdout + mig.stderr
        result = json.loads(mig.stdout)["hv1"]
        assert result["method"] == "live" and result["policy"] == "live" and result["attempts"] == 1
        listed = json.loads(c.pvc("run", "-G", "role:hypervisor", "virt.list", "--out", "json").stdout)
        assert listed["hv1"] == []
        assert [(d["name"], d["state"], d["node"]) for d in listed["hv2"]] == [("e2e", "running", "hv2")]
        after = len(_ticks(c, "hv2"))
        wait_for(lambda: len(_ticks(c, "hv2")) >= after + 2, 30, "ticks to continue on hv2")
        ticks = _ticks(c, "hv2")
        assert ticks == list(range(len(ticks))), "the ticks restarted or skipped: the guest did not keep running"
        out, _ = listener.communicate(timeout=100)
        tags = {(json.loads(line)["tag"], json.loads(line)["data"]["_minion"]) for line in out.splitlines()}
        assert ("pvc/vm/e2e/started", "hv1") in tags
        assert ("pvc/vm/e2e/migrated", "hv1") in tags and ("pvc/vm/e2e/migrated", "hv2") in tags
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
        c.pvc("run", "hv2", "virt.destroy", "e2e")
        c.pvc("run", "hv2", "virt.undefine", "e2e")


def test_every_event_the_virt_module_fires_passes_a_real_master(pvc_cluster: PvcCluster, libvirt_hosts, tmp_path):
    """The virt module's own events — its connection (pvc/virt/<node>/connected) and a VM's
    lifecycle — reach the bus through a real master, stamped with the node that fired them."""
    c = pvc_cluster
    c.start_master()
    listener = subprocess.Popen(
        [sys.executable, "-m", "pvc.cli.main", "event", "listen", "-c", str(c.master_dir), "pvc/*",
         "--out", "json", "--timeout", "40"], stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    c.add_minion("hv3", modules={"virt": {"uri": libvirt_hosts["h1"].uri, "console_dir": str(tmp_path / "hv3")}})
    c.wait_connected()
    spec = [f"{key}={value}" for key, value in guest_spec("ev1").items()]
    try:
        assert c.pvc("run", "hv3", "virt.define", *spec).returncode == 0
        assert c.pvc("run", "hv3", "virt.start", "ev1").returncode == 0
        assert c.pvc("run", "hv3", "virt.destroy", "ev1").returncode == 0
        wanted = {("pvc/virt/hv3/connected", "hv3"), ("pvc/vm/ev1/started", "hv3"), ("pvc/vm/ev1/stopped", "hv3")}
        seen: set[tuple[str, str]] = set()
        deadline = time.monotonic() + 30
        assert listener.stdout is not None
        while not wanted <= seen and time.monotonic() < deadline:
            line = listener.stdout.readline()
            if line:
                event = json.loads(line)
                seen.add((event["tag"], event["data"].get("_minion", "")))
        assert wanted <= seen, seen
        assert "may not fire" not in (c.root / "master.out").read_text()
    finally:
        listener.kill()
        listener.wait()
        c.pvc("run", "hv3", "virt.undefine", "ev1")
