"""Open pools and RBD images by name, with "does not exist" errors that name what is missing.

Example::

    with open_pool(cluster, "vms") as io, open_image(io, "vms", "vm1-disk0") as img:
        image_info(img, "vms", "vm1-disk0")["size_human"]   # "10 GiB"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pvc.ceph.errors import CephNotFound
from pvc.ceph.sizes import sized
from pvc.errors import InvalidArgument

if TYPE_CHECKING:
    import rados
    import rbd

FEATURES = ("layering", "striping_v2", "exclusive_lock", "object_map", "fast_diff", "deep_flatten",
            "journaling", "data_pool", "operations", "migrating", "non_primary")


def check_name(kind: str, name: Any) -> str:
    """Pool, image and snapshot names: non-empty strings without '/' or '@' (they separate specs)."""
    if not isinstance(name, str) or not name or "/" in name or "@" in name or "\0" in name:
        raise InvalidArgument(f"ceph: {kind} name must be a non-empty string without '/' or '@', got {name!r}")
    return name


def open_pool(cluster: rados.Rados, pool: str) -> rados.Ioctx:
    """The pool's I/O context (use it in ``with``: it closes itself)."""
    import rados

    try:
        return cluster.open_ioctx(check_name("pool", pool))
    except rados.ObjectNotFound:
        raise CephNotFound(f"ceph: pool '{pool}' does not exist") from None


def open_image(ioctx: rados.Ioctx, pool: str, name: str, read_only: bool = False) -> rbd.Image:
    """The opened image (use it in ``with``: it closes itself)."""
    import rbd

    try:
        return rbd.Image(ioctx, check_name("image", name), read_only=read_only)
    except rbd.ImageNotFound:
        raise CephNotFound(f"ceph: image '{pool}/{name}' does not exist") from None


def require_snapshot(image: rbd.Image, pool: str, name: str, snapshot: str) -> None:
    if not any(s["name"] == check_name("snapshot", snapshot) for s in image.list_snaps()):
        raise CephNotFound(f"ceph: snapshot '{pool}/{name}@{snapshot}' does not exist")


def feature_mask(names: list[str] | tuple[str, ...]) -> int:
    """``["layering", "exclusive_lock"]`` -> the librbd feature bit mask."""
    import rbd

    unknown = [n for n in names if n not in FEATURES]
    if unknown or not isinstance(names, (list, tuple)):
        raise InvalidArgument(f"ceph: unknown RBD feature(s) {unknown or names!r}; known: {', '.join(FEATURES)}")
    mask = 0
    for name in names:
        mask |= getattr(rbd, f"RBD_FEATURE_{name.upper()}")
    return mask


def feature_names(mask: int) -> list[str]:
    import rbd

    return [n for n in FEATURES if mask & getattr(rbd, f"RBD_FEATURE_{n.upper()}", 0)]


def parent_of(image: rbd.Image) -> str | None:
    """``pool/image@snapshot`` this clone was made from, or None."""
    import rbd

    try:
        pool, name, snap = image.parent_info()
    except rbd.ImageNotFound:
        return None
    return f"{pool}/{name}@{snap}"


def image_info(image: rbd.Image, pool: str, name: str) -> dict[str, Any]:
    stat = image.stat()
    return {
        "pool": pool,
        "name": name,
        "id": image.id(),
        **sized("size", stat["size"]),
        **sized("object_size", stat["obj_size"]),
        "objects": stat["num_objs"],
        "block_name_prefix": stat["block_name_prefix"],
        "features": feature_names(image.features()),
        "parent": parent_of(image),
        "snapshots": len(list(image.list_snaps())),
    }


def snapshot_entry(image: rbd.Image, snap: dict[str, Any]) -> dict[str, Any]:
    return {"name": snap["name"], "id": snap["id"], **sized("size", snap["size"]),
            "protected": image.is_protected_snap(snap["name"])}
