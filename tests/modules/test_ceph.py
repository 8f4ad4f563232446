"""The ceph module against a real memstore Ceph cluster, called the way ``pvc call`` does."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pvc.ceph.sizes import human, parse_size
from pvc.config import MinionConfig
from pvc.errors import InvalidArgument
from pvc.minion.functions import MinionFunctions
from tests.cluster.ceph import CephCluster

GiB = 1 << 30
MiB = 1 << 20


def functions(conf: str, timeout: int = 10) -> MinionFunctions:
    return MinionFunctions(MinionConfig(id="t", modules={"ceph": {"conf": conf, "timeout": timeout}}), grains={})


@pytest.fixture(scope="module")
def ceph(ceph_cluster: CephCluster) -> Iterator[MinionFunctions]:
    funcs = functions(ceph_cluster.conf)
    yield funcs
    funcs.close()


def call(funcs: MinionFunctions, fun: str, *args: Any, **kwargs: Any) -> Any:
    ret = funcs.call(fun, args, kwargs)
    assert ret.ok, ret.error
    return ret.data


def fails(funcs: MinionFunctions, fun: str, *args: Any, **kwargs: Any) -> tuple[str, str]:
    ret = funcs.call(fun, args, kwargs)
    assert not ret.ok, ret.data
    return ret.error_type or "", ret.error or ""


# --- sizes (no cluster) ------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "size"), [("10G", 10 * GiB), ("512M", 512 * MiB), ("1.5T", 3 << 39),
                                            ("4096", 4096), (4096, 4096), ("2GiB", 2 * GiB), ("1k", 1024)])
def test_parse_size(text: Any, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["", "ten", "-1G", "0", 0, True, None, "1X"])
def test_parse_size_rejects(bad: Any) -> None:
    with pytest.raises(InvalidArgument, match="size"):
        parse_size(bad)


def test_human() -> None:
    assert [human(n) for n in (0, 1023, 512 * MiB, 1536 * MiB, 10 * GiB)] == \
        ["0 B", "1023 B", "512 MiB", "1.5 GiB", "10 GiB"]


# --- cluster -----------------------------------------------------------------------------------


def test_status_health_osds(ceph: MinionFunctions) -> None:
    st = call(ceph, "ceph.status")
    assert st["health"] == "HEALTH_OK" and st["mons"] == 1
    assert st["osds"] == {"total": 1, "up": 1, "in": 1}
    assert call(ceph, "ceph.health") == {"status": "HEALTH_OK", "checks": {}}
    [osd] = call(ceph, "ceph.osd_list")
    assert osd["id"] == 0 and osd["name"] == "osd.0" and osd["up"] and osd["in"]


def test_pool_lifecycle(ceph: MinionFunctions, ceph_cluster: CephCluster) -> None:
    created = call(ceph, "ceph.pool_create", "pvc-pool", pg_num=8, size=1)
    try:
        assert created["created"]
        pool = next(p for p in call(ceph, "ceph.pool_list") if p["name"] == "pvc-pool")
        assert pool["pg_num"] == 8 and pool["size"] == 1 and pool["applications"] == ["rbd"]
        assert fails(ceph, "ceph.pool_create", "pvc-pool") == ("CephExists", "ceph: pool 'pvc-pool' already exists")
        assert call(ceph, "ceph.pool_set", "pvc-pool", "min_size", 1)["value"] == "1"
        kind, msg = fails(ceph, "ceph.pool_set", "pvc-pool", "no_such_option", 1)
        assert kind == "InvalidArgument" and "no_such_option" in msg
        assert call(ceph, "ceph.pool_remove", "pvc-pool") == {"name": "pvc-pool", "removed": True}
        assert "pvc-pool" not in [p["name"] for p in call(ceph, "ceph.pool_list")]
    finally:
        ceph_cluster.remove_pool("pvc-pool")


def test_df_sees_written_data(ceph: MinionFunctions, ceph_pool: str) -> None:
    """Stats lag writes by the mgr stats + digest periods (1 s + 1 s here): poll, bounded."""
    call(ceph, "ceph.volume_create", ceph_pool, "filled", "8M")
    call(ceph, "ceph.volume_copy", ceph_pool, "filled", "copy")  # writes the image headers
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        usage = next((p for p in call(ceph, "ceph.df")["pools"] if p["name"] == ceph_pool), {"objects": 0})
        if usage["objects"] > 0:  # a new pool shows up in df only after a mgr digest
            break
        time.sleep(0.3)
    assert usage["objects"] > 0 and usage["stored_human"].endswith("B")
    assert call(ceph, "ceph.df")["total"] > 0


# --- volumes -----------------------------------------------------------------------------------


def test_volume_create_resize_info_remove(ceph: MinionFunctions, ceph_pool: str) -> None:
    info = call(ceph, "ceph.volume_create", ceph_pool, "disk0", "64M")
    assert (info["size"], info["size_human"], info["parent"]) == (64 * MiB, "64 MiB", None)
    assert "layering" in info["features"] and "exclusive_lock" in info["features"]
    assert call(ceph, "ceph.volume_list", ceph_pool) == [{"name": "disk0", "size": 64 * MiB, "size_human": "64 MiB"}]
    assert call(ceph, "ceph.volume_resize", ceph_pool, "disk0", "128M")["size"] == 128 * MiB
    kind, msg = fails(ceph, "ceph.volume_resize", ceph_pool, "disk0", "32M")
    assert kind == "InvalidArgument" and "allow_shrink" in msg
    assert call(ceph, "ceph.volume_resize", ceph_pool, "disk0", 32 * MiB, allow_shrink=True)["size"] == 32 * MiB
    assert call(ceph, "ceph.volume_info", ceph_pool, "disk0")["size_human"] == "32 MiB"
    assert fails(ceph, "ceph.volume_create", ceph_pool, "disk0", "1M")[0] == "CephExists"
    assert call(ceph, "ceph.volume_remove", ceph_pool, "disk0")["removed"]
    assert call(ceph, "ceph.volume_list", ceph_pool) == []


def test_clone_from_protected_snapshot_and_copy(ceph: MinionFunctions, ceph_pool: str,
                                                ceph_cluster: CephCluster) -> None:
    call(ceph, "ceph.volume_create", ceph_pool, "template", "16M")
    _write(ceph_cluster, ceph_pool, "template", b"golden")
    call(ceph, "ceph.snapshot_create", ceph_pool, "template", "base")
    kind, msg = fails(ceph, "ceph.volume_clone", ceph_pool, "template", "base", "vm1")
    assert kind == "InvalidArgument" and "not protected" in msg
    assert call(ceph, "ceph.snapshot_protect", ceph_pool, "template", "base")["changed"]
    assert not call(ceph, "ceph.snapshot_protect", ceph_pool, "template", "base")["changed"]
    clone = call(ceph, "ceph.volume_clone", ceph_pool, "template", "base", "vm1")
    assert clone["parent"] == f"{ceph_pool}/template@base" and clone["size"] == 16 * MiB
    assert _read(ceph_cluster, ceph_pool, "vm1", 6) == b"golden"
    copy = call(ceph, "ceph.volume_copy", ceph_pool, "template", "backup")
    assert copy["parent"] is None and _read(ceph_cluster, ceph_pool, "backup", 6) == b"golden"

    kind, msg = fails(ceph, "ceph.snapshot_unprotect", ceph_pool, "template", "base")
    assert kind == "ImageBusy" and "busy" in msg
    kind, msg = fails(ceph, "ceph.snapshot_remove", ceph_pool, "template", "base")
    assert kind == "ImageBusy"
    assert msg == f"ceph: cannot remove snapshot '{ceph_pool}/template@base': it is protected; unprotect it first"
    kind, msg = fails(ceph, "ceph.volume_remove", ceph_pool, "template")
    assert kind == "ImageHasSnapshots" and "remove them first" in msg
    call(ceph, "ceph.volume_remove", ceph_pool, "vm1")
    assert not call(ceph, "ceph.snapshot_unprotect", ceph_pool, "template", "base")["protected"]
    call(ceph, "ceph.snapshot_remove", ceph_pool, "template", "base")
    assert call(ceph, "ceph.snapshot_list", ceph_pool, "template") == []


def test_snapshot_rollback(ceph: MinionFunctions, ceph_pool: str, ceph_cluster: CephCluster) -> None:
    call(ceph, "ceph.volume_create", ceph_pool, "disk", "4M")
    _write(ceph_cluster, ceph_pool, "disk", b"before")
    call(ceph, "ceph.snapshot_create", ceph_pool, "disk", "s1")
    [snap] = call(ceph, "ceph.snapshot_list", ceph_pool, "disk")
    assert (snap["name"], snap["size"], snap["protected"]) == ("s1", 4 * MiB, False)
    assert fails(ceph, "ceph.snapshot_create", ceph_pool, "disk", "s1")[0] == "CephExists"
    _write(ceph_cluster, ceph_pool, "disk", b"after!")
    assert call(ceph, "ceph.snapshot_rollback", ceph_pool, "disk", "s1")["rolled_back"]
    assert _read(ceph_cluster, ceph_pool, "disk", 6) == b"before"


# --- locks -------------------------------------------------------------------------------------


def test_lock_list_and_break(ceph: MinionFunctions, ceph_pool: str, ceph_cluster: CephCluster) -> None:
    """A second client (a VM's librbd) holds an exclusive lock; fencing lists it and breaks it."""
    import rbd

    call(ceph, "ceph.volume_create", ceph_pool, "vmdisk", "4M")
    other = ceph_cluster.client()
    try:
        with other.open_ioctx(ceph_pool) as ioctx, rbd.Image(ioctx, "vmdisk") as image:
            image.lock_exclusive("vm-cookie")
            [lock] = call(ceph, "ceph.lock_list", ceph_pool, "vmdisk")
            assert lock["cookie"] == "vm-cookie" and lock["exclusive"] and lock["client"].startswith("client.")
            kind, msg = fails(ceph, "ceph.lock_break", ceph_pool, "vmdisk", lock["client"], "other-cookie")
            assert kind == "InvalidArgument" and "no such lock" in msg
            broken = call(ceph, "ceph.lock_break", ceph_pool, "vmdisk", lock["client"], "vm-cookie")
            assert broken["broken"] and broken["blocklisted"] is None
            assert call(ceph, "ceph.lock_list", ceph_pool, "vmdisk") == []
    finally:
        other.shutdown()


def test_fencing_breaks_managed_lock_and_blocklists(ceph: MinionFunctions, ceph_pool: str,
                                                    ceph_cluster: CephCluster) -> None:
    """A VM's librbd holds the exclusive-lock feature's lock; after lock_break with blocklist the
    old holder cannot write any more (so a half-dead node cannot corrupt the disk)."""
    import rbd

    call(ceph, "ceph.volume_create", ceph_pool, "vmdisk", "4M")
    vm = ceph_cluster.client()
    ioctx = vm.open_ioctx(ceph_pool)
    image = rbd.Image(ioctx, "vmdisk")
    try:
        image.lock_acquire(rbd.RBD_LOCK_MODE_EXCLUSIVE)
        [lock] = call(ceph, "ceph.lock_list", ceph_pool, "vmdisk")
        assert lock["tag"] == "internal" and lock["cookie"].startswith("auto ")
        broken = call(ceph, "ceph.lock_break", ceph_pool, "vmdisk", lock["client"], lock["cookie"], blocklist=True)
        assert broken["blocklisted"] == lock["address"]
        assert call(ceph, "ceph.lock_list", ceph_pool, "vmdisk") == []
        with pytest.raises(rbd.ConnectionShutdown):
            image.write(b"late write", 0)
    finally:
        image.close()
        ioctx.close()
        vm.shutdown()


# --- errors ------------------------------------------------------------------------------------


def test_missing_things_are_named(ceph: MinionFunctions, ceph_pool: str) -> None:
    assert fails(ceph, "ceph.volume_list", "nope") == ("CephNotFound", "ceph: pool 'nope' does not exist")
    assert fails(ceph, "ceph.pool_remove", "nope") == ("CephNotFound", "ceph: pool 'nope' does not exist")
    assert fails(ceph, "ceph.volume_info", ceph_pool, "ghost") == \
        ("CephNotFound", f"ceph: image '{ceph_pool}/ghost' does not exist")
    call(ceph, "ceph.volume_create", ceph_pool, "disk", "1M")
    assert fails(ceph, "ceph.snapshot_rollback", ceph_pool, "disk", "never") == \
        ("CephNotFound", f"ceph: snapshot '{ceph_pool}/disk@never' does not exist")


@pytest.mark.parametrize(("fun", "args", "needle"), [
    ("ceph.volume_create", ("p", "disk", "lots"), "is not a size"),
    ("ceph.volume_create", ("p", "a/b", "1M"), "image name"),
    ("ceph.volume_create", ("p", "disk", "1M", ["warp_drive"]), "unknown RBD feature"),
    ("ceph.pool_create", ("bad@name",), "pool name"),
    ("ceph.pool_create", ("ok", 0), "pg_num"),
    ("ceph.snapshot_create", ("p", "disk", ""), "snapshot name"),
    ("ceph.volume_info", ("p",), "missing a required argument"),
])
def test_bad_input(ceph: MinionFunctions, fun: str, args: tuple[Any, ...], needle: str) -> None:
    kind, msg = fails(ceph, fun, *args)
    assert kind == "InvalidArgument" and needle in msg


def test_unreachable_cluster_within_timeout(tmp_path: Path, ceph_cluster: CephCluster) -> None:
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "ceph.conf"
    conf.write_text(f"[global]\nmon host = 127.0.0.1:{port}\nauth client required = none\n")
    funcs = functions(str(conf), timeout=1)
    start = time.monotonic()
    ret = funcs.call("ceph.status")
    assert time.monotonic() - start < 5
    assert (ret.ok, ret.error_type) == (False, "CephUnreachable")
    assert ret.error == f"ceph: cannot reach cluster via {conf} within 1s"
    assert funcs.call("ceph.pool_list").error_type == "CephUnreachable"  # a failed connect is not cached: retried
    funcs.close()


def _image(cluster: CephCluster, pool: str, name: str) -> Any:
    import rbd

    client = cluster.client()
    ioctx = client.open_ioctx(pool)
    return client, ioctx, rbd.Image(ioctx, name)


def _write(cluster: CephCluster, pool: str, name: str, data: bytes) -> None:
    client, ioctx, image = _image(cluster, pool, name)
    try:
        image.write(data, 0)
    finally:
        image.close(), ioctx.close(), client.shutdown()


def _read(cluster: CephCluster, pool: str, name: str, length: int) -> bytes:
    client, ioctx, image = _image(cluster, pool, name)
    try:
        return image.read(0, length)
    finally:
        image.close(), ioctx.close(), client.shutdown()
