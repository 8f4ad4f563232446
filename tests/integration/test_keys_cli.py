"""`pvc key` against a real master, and the minion's pin on the master key."""

from __future__ import annotations

import json
import shutil
import time

from pvc.crypto import Ed25519PrivateKey
from tests.cluster.pvc import PvcCluster
from tests.cluster.rogue import RogueMinion
from tests.cluster.wait import wait_for


def _keys(c: PvcCluster) -> dict:
    proc = c.pvc("key", "list", "--out", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_key_lifecycle(pvc_cluster: PvcCluster):
    c = pvc_cluster
    c.auto_accept = False
    c.start_master()
    c.add_minion("k1")
    c.add_minion("k2")
    c.accept("k1")
    assert _keys(c)["accepted"] == ["k1"] and _keys(c)["pending"] == ["k2"]
    c.wait_connected(["k1"])
    finger = c.pvc("key", "finger", "k*")
    assert finger.returncode == 0 and "master.pub" in finger.stdout and "k1 (accepted)" in finger.stdout
    reject = c.pvc("key", "reject", "k2", "--yes")
    assert reject.returncode == 0 and _keys(c)["rejected"] == ["k2"]
    # a second key offered for an accepted id is denied, and the real minion keeps working
    impostor = RogueMinion(c, "k1", Ed25519PrivateKey.generate())
    assert impostor.auth() == "denied"
    impostor.close()
    assert _keys(c)["denied"] == ["k1"]
    assert c.client().cmd("k1", "test.ping") == {"k1": True}
    # without --yes the CLI asks, and "no" changes nothing
    proc = c.pvc("key", "delete", "k1", input_text="n\n")
    assert proc.returncode == 1 and "k1" in _keys(c)["accepted"]
    assert proc.stdout.rstrip().endswith("Nothing done.")
    assert c.pvc("key", "delete", "*", "--yes").returncode == 0
    assert _keys(c) == {"accepted": [], "pending": [], "rejected": [], "denied": []} or _keys(c)["accepted"] == []
    missing = c.pvc("key", "accept", "nosuch", "--yes")
    assert missing.returncode == 2 and "no pending key matches 'nosuch'" in missing.stderr


def test_minion_refuses_a_master_with_another_key(pvc_cluster: PvcCluster):
    c = pvc_cluster
    c.start_master()
    c.add_minion("p1")
    c.wait_connected()
    c.stop_master()
    shutil.rmtree(c.master_dir / "root" / "pki")  # a different master (new key) at the same address
    c.start_master()
    time.sleep(3)
    _, connected = c.client().expected("*")
    assert connected == []
    log = (c.root / "minion-p1.out").read_text()
    assert "master key differs from the pinned key" in log


def test_master_finger_pins_before_first_contact(pvc_cluster: PvcCluster):
    c = pvc_cluster
    c.start_master()
    c.add_minion("f1", master_finger="00:" * 31 + "00")
    time.sleep(2)
    assert c.client().expected("*")[1] == []
    assert "does not match master_finger" in (c.root / "minion-f1.out").read_text()


def test_finger_local_matches_what_the_master_received(pvc_cluster: PvcCluster):
    c = pvc_cluster
    c.auto_accept = False
    c.start_master()
    c.add_minion("k3")
    pre = c.master_dir / "root" / "pki" / "master" / "minions_pre" / "k3"
    wait_for(pre.exists, 15, "key of k3 pending")
    master_view = c.pvc("key", "finger", "k3")
    local = c.pvc("key", "finger", "--local", "-c", str(c.minion_dir("k3")))
    assert local.returncode == 0, local.stderr
    finger = local.stdout.split()[-1]
    assert f"k3 (pending):  {finger}" in master_view.stdout
