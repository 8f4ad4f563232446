"""The key mirror's merge rules, against a real ZooKeeper and real key stores (two masters'
pki dirs), by calling ``sync_once`` in a chosen order."""

from __future__ import annotations

from pathlib import Path

from pvc.cluster.client import ClusterClient
from pvc.crypto import Ed25519PrivateKey
from pvc.master.keystore import KeyStore
from pvc.runners.keymirror import KeyMirror

KEY = Ed25519PrivateKey.generate().public_key().public_bytes_raw()


def _pair(tmp_path: Path, zk_client: ClusterClient, zk_root: str) -> tuple[KeyMirror, KeyMirror, list[str]]:
    notified: list[str] = []
    mirrors = []
    for name in ("a", "b"):
        KeyStore(str(tmp_path / name))  # makes the state directories
        mirror = KeyMirror(zk_client, zk_root, str(tmp_path / name), lambda n=name: notified.append(n))
        zk_client.zk.ensure_path(mirror.path)
        mirrors.append(mirror)
    return mirrors[0], mirrors[1], notified


def _state(tmp_path: Path, name: str) -> dict[str, str]:
    return {k.id: k.state for k in KeyStore(str(tmp_path / name)).find()}


def test_an_accept_is_not_undone_by_the_other_masters_copy_of_the_offer(tmp_path, zk_client, zk_root):
    a, b, _ = _pair(tmp_path, zk_client, zk_root)
    KeyStore(str(tmp_path / "a")).put("pending", "m1", KEY)  # the minion offers to both masters
    KeyStore(str(tmp_path / "b")).put("pending", "m1", KEY)
    b.sync_once()  # b publishes the offer first
    KeyStore(str(tmp_path / "a")).accept("m1")  # the operator accepts on a before a's first look
    a.sync_once()
    b.sync_once()
    assert _state(tmp_path, "a") == {"m1": "accepted"} and _state(tmp_path, "b") == {"m1": "accepted"}


def test_an_offer_never_overrides_the_clusters_decision(tmp_path, zk_client, zk_root):
    a, b, notified = _pair(tmp_path, zk_client, zk_root)
    KeyStore(str(tmp_path / "a")).put("accepted", "m1", KEY)
    a.sync_once()
    KeyStore(str(tmp_path / "b")).put("pending", "m1", KEY)  # b's enrolment, before b looked
    b.sync_once()
    assert _state(tmp_path, "b") == {"m1": "accepted"} and notified == ["b"]
    a.sync_once()
    assert _state(tmp_path, "a") == {"m1": "accepted"}


def test_a_delete_reaches_the_other_master(tmp_path, zk_client, zk_root):
    a, b, _ = _pair(tmp_path, zk_client, zk_root)
    KeyStore(str(tmp_path / "a")).put("accepted", "m1", KEY)
    a.sync_once()
    b.sync_once()
    assert _state(tmp_path, "b") == {"m1": "accepted"}
    KeyStore(str(tmp_path / "b")).delete("m1")
    b.sync_once()
    a.sync_once()
    assert _state(tmp_path, "a") == {}
