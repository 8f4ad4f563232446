"""The ``ceph`` module's RBD functions: volumes (images), snapshots and locks, through librbd
(see :mod:`pvc.modules.ceph`).

Example: ``pvc run hv1 ceph.volume_create vms vm1-disk0 10G``
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pvc.ceph.cluster import mon_json, session
from pvc.ceph.errors import ImageBusy
from pvc.ceph.images import (
    check_name,
    feature_mask,
    image_info,
    open_image,
    open_pool,
    require_snapshot,
    snapshot_entry,
)
from pvc.ceph.sizes import parse_size, sized
from pvc.errors import InvalidArgument
from pvc.execution.context import ExecContext

# --- volumes (RBD images) ------------------------------------------------------------------------


def volume_list(ctx: ExecContext, pool: str) -> list[dict[str, Any]]:
    """The RBD images of ``pool`` with their sizes.

    Example: ``pvc call ceph.volume_list vms``
    """
    import rbd

    with session(ctx.resources, ctx.config, f"list images in pool '{pool}'") as cluster, open_pool(cluster, pool) as ioctx:
        found = []
        for name in sorted(rbd.RBD().list(ioctx)):
            with open_image(ioctx, pool, name, read_only=True) as image:
                found.append({"name": name, **sized("size", image.size())})
        return found


def volume_info(ctx: ExecContext, pool: str, name: str) -> dict[str, Any]:
    """Size, object size, features, parent (for clones) and snapshot count of one image.

    Example: ``pvc call ceph.volume_info vms vm1-disk0``
    """
    with session(ctx.resources, ctx.config, f"read image '{pool}/{name}'") as cluster, open_pool(cluster, pool) as ioctx, \
            open_image(ioctx, pool, name, read_only=True) as image:
        return image_info(image, pool, name)


def volume_create(ctx: ExecContext, pool: str, name: str, size: Any,
                  features: list[str] | None = None) -> dict[str, Any]:
    """Create an RBD image of ``size`` ("10G", "512M" or bytes); ``features`` defaults to the
    cluster's ``rbd default features``.

    Example: ``pvc run hv1 ceph.volume_create vms vm1-disk0 10G``
    """
    import rbd

    check_name("image", name)
    nbytes = parse_size(size)
    mask = None if features is None else feature_mask(features)
    with session(ctx.resources, ctx.config, f"create image '{pool}/{name}'") as cluster, open_pool(cluster, pool) as ioctx:
        rbd.RBD().create(ioctx, name, nbytes, old_format=False, features=mask)
    return volume_info(ctx, pool, name)


def volume_resize(ctx: ExecContext, pool: str, name: str, size: Any, allow_shrink: bool = False) -> dict[str, Any]:
    """Grow an image to ``size``; shrinking (which destroys data) needs ``allow_shrink=True``.

    Example: ``pvc run hv1 ceph.volume_resize vms vm1-disk0 20G``
    """
    nbytes = parse_size(size)
    with session(ctx.resources, ctx.config, f"resize image '{pool}/{name}'") as cluster, open_pool(cluster, pool) as ioctx, \
            open_image(ioctx, pool, name) as image:
        if nbytes < image.size() and allow_shrink is not True:
            raise InvalidArgument(f"ceph: resizing '{pool}/{name}' to {size} would shrink it and destroy data; "
                                  "pass allow_shrink=True to do so")
        image.resize(nbytes, allow_shrink=True)
        return image_info(image, pool, name)


def volume_remove(ctx: ExecContext, pool: str, name: str) -> dict[str, Any]:
    """Delete an image (refused while it has snapshots or is open by a client).

    Example: ``pvc run hv1 ceph.volume_remove vms vm1-disk0``
    """
    import rbd

    with session(ctx.resources, ctx.config, f"remove image '{pool}/{name}'") as cluster, open_pool(cluster, pool) as ioctx:
        with open_image(ioctx, pool, name, read_only=True):
            pass  # a clear "does not exist" before librbd's generic ENOENT
        rbd.RBD().remove(ioctx, name)
    return {"pool": pool, "name": name, "removed": True}


def volume_clone(ctx: ExecContext, pool: str, name: str, snapshot: str, new_name: str,
                 new_pool: str | None = None) -> dict[str, Any]:
    """Copy-on-write clone of ``pool/name@snapshot`` (protect the snapshot first) as
    ``new_pool/new_name`` (same pool by default).

    Example: ``pvc run hv1 ceph.volume_clone vms template base vm2-disk0``
    """
    import rbd

    target = new_pool or pool
    action = f"clone '{pool}/{name}@{snapshot}' to '{target}/{new_name}'"
    with session(ctx.resources, ctx.config, action) as cluster, open_pool(cluster, pool) as src, open_pool(cluster, target) as dst:
        with open_image(src, pool, name, read_only=True) as image:
            require_snapshot(image, pool, name, snapshot)
            if not image.is_protected_snap(snapshot):
                raise InvalidArgument(f"ceph: cannot {action}: the snapshot is not protected; "
                                      "run ceph.snapshot_protect first")
        rbd.RBD().clone(src, name, snapshot, dst, check_name("image", new_name),
                        features=rbd.RBD_FEATURE_LAYERING)
    return volume_info(ctx, target, new_name)


def volume_copy(ctx: ExecContext, pool: str, name: str, new_name: str, new_pool: str | None = None) -> dict[str, Any]:
    """Full, independent copy of an image's current data as ``new_pool/new_name``.

    Example: ``pvc run hv1 ceph.volume_copy vms vm1-disk0 vm1-disk0-backup``
    """
    target = new_pool or pool
    with session(ctx.resources, ctx.config, f"copy '{pool}/{name}' to '{target}/{new_name}'") as cluster, \
            open_pool(cluster, pool) as src, open_pool(cluster, target) as dst, \
            open_image(src, pool, name, read_only=True) as image:
        image.copy(dst, check_name("image", new_name))
    return volume_info(ctx, target, new_name)


# --- snapshots -----------------------------------------------------------------------------------


def snapshot_list(ctx: ExecContext, pool: str, volume: str) -> list[dict[str, Any]]:
    """The snapshots of an image: name, id, size, protected.

    Example: ``pvc call ceph.snapshot_list vms vm1-disk0``
    """
    with session(ctx.resources, ctx.config, f"list snapshots of '{pool}/{volume}'") as cluster, open_pool(cluster, pool) as ioctx, \
            open_image(ioctx, pool, volume, read_only=True) as image:
        return [snapshot_entry(image, snap) for snap in image.list_snaps()]


@contextmanager
def _snapshot_op(ctx: ExecContext, verb: str, pool: str, volume: str, snapshot: str,
                 exists: bool = True) -> Iterator[Any]:
    """The open image for a snapshot operation, the snapshot checked to exist (or not), errors mapped."""
    check_name("snapshot", snapshot)
    with session(ctx.resources, ctx.config, f"{verb} snapshot '{pool}/{volume}@{snapshot}'") as cluster, \
            open_pool(cluster, pool) as ioctx, open_image(ioctx, pool, volume) as image:
        if exists:
            require_snapshot(image, pool, volume, snapshot)
        yield image


def _snapshot_result(pool: str, volume: str, snapshot: str, **flags: bool) -> dict[str, Any]:
    return {"pool": pool, "volume": volume, "snapshot": snapshot, **flags}


def snapshot_create(ctx: ExecContext, pool: str, volume: str, snapshot: str) -> dict[str, Any]:
    """Take a snapshot of an image.

    Example: ``pvc run hv1 ceph.snapshot_create vms vm1-disk0 before-upgrade``
    """
    with _snapshot_op(ctx, "create", pool, volume, snapshot, exists=False) as image:
        image.create_snap(snapshot)
    return _snapshot_result(pool, volume, snapshot, created=True)


def snapshot_remove(ctx: ExecContext, pool: str, volume: str, snapshot: str) -> dict[str, Any]:
    """Delete a snapshot (refused while it is protected).

    Example: ``pvc run hv1 ceph.snapshot_remove vms vm1-disk0 before-upgrade``
    """
    with _snapshot_op(ctx, "remove", pool, volume, snapshot) as image:
        if image.is_protected_snap(snapshot):
            raise ImageBusy(f"ceph: cannot remove snapshot '{pool}/{volume}@{snapshot}': it is protected; "
                            "unprotect it first")
        image.remove_snap(snapshot)
    return _snapshot_result(pool, volume, snapshot, removed=True)


def snapshot_rollback(ctx: ExecContext, pool: str, volume: str, snapshot: str) -> dict[str, Any]:
    """Roll the image's data back to a snapshot (stop the VM using it first).

    Example: ``pvc run hv1 ceph.snapshot_rollback vms vm1-disk0 before-upgrade``
    """
    with _snapshot_op(ctx, "roll back to", pool, volume, snapshot) as image:
        image.rollback_to_snap(snapshot)
    return _snapshot_result(pool, volume, snapshot, rolled_back=True)


def snapshot_protect(ctx: ExecContext, pool: str, volume: str, snapshot: str) -> dict[str, Any]:
    """Protect a snapshot so it can be cloned and cannot be removed.

    Example: ``pvc run hv1 ceph.snapshot_protect vms template base``
    """
    with _snapshot_op(ctx, "protect", pool, volume, snapshot) as image:
        changed = not image.is_protected_snap(snapshot)
        if changed:
            image.protect_snap(snapshot)
    return _snapshot_result(pool, volume, snapshot, protected=True, changed=changed)


def snapshot_unprotect(ctx: ExecContext, pool: str, volume: str, snapshot: str) -> dict[str, Any]:
    """Unprotect a snapshot (refused while clones of it exist: flatten or remove them first).

    Example: ``pvc run hv1 ceph.snapshot_unprotect vms template base``
    """
    with _snapshot_op(ctx, "unprotect", pool, volume, snapshot) as image:
        changed = image.is_protected_snap(snapshot)
        if changed:
            image.unprotect_snap(snapshot)
    return _snapshot_result(pool, volume, snapshot, protected=False, changed=changed)


# --- locks ---------------------------------------------------------------------------------------


def lock_list(ctx: ExecContext, pool: str, volume: str) -> list[dict[str, Any]]:
    """Who holds a lock on an image: client (``client.4123``), cookie, address, exclusive, tag.
    A VM's librbd takes one through the exclusive-lock feature; fencing breaks it.

    Example: ``pvc call ceph.lock_list vms vm1-disk0``
    """
    with session(ctx.resources, ctx.config, f"list locks of '{pool}/{volume}'") as cluster, open_pool(cluster, pool) as ioctx, \
            open_image(ioctx, pool, volume, read_only=True) as image:
        info = image.list_lockers()
    if not info:
        return []
    return [{"client": client, "cookie": cookie, "address": address, "exclusive": info["exclusive"],
             "tag": info["tag"]} for client, cookie, address in info["lockers"]]


def lock_break(ctx: ExecContext, pool: str, volume: str, client: str, cookie: str,
               blocklist: bool = False) -> dict[str, Any]:
    """Break the lock ``client``/``cookie`` holds on an image (from ``lock_list``). With
    ``blocklist=True`` the holder's address is first added to the OSD blocklist, so a client
    that is not really dead can no longer write (what fencing needs).

    Example: ``pvc run hv2 ceph.lock_break vms vm1-disk0 client.4123 'auto 140234' blocklist=True``
    """
    action = f"break lock {client}/{cookie} on '{pool}/{volume}'"
    with session(ctx.resources, ctx.config, action) as cluster, open_pool(cluster, pool) as ioctx, \
            open_image(ioctx, pool, volume) as image:
        held = {(c, k): addr for c, k, addr in (image.list_lockers() or {"lockers": []})["lockers"]}
        if (client, cookie) not in held:
            raise InvalidArgument(f"ceph: cannot {action}: no such lock (see ceph.lock_list)")
        if blocklist:
            mon_json(cluster, "osd blocklist", action, blocklistop="add", addr=held[(client, cookie)])
        image.break_lock(client, cookie)
    return {"pool": pool, "volume": volume, "client": client, "cookie": cookie, "broken": True,
            "blocklisted": held[(client, cookie)] if blocklist else None}
