"""The ``ceph`` module's cluster and pool functions, through librados (see :mod:`pvc.modules.ceph`).

Example: ``pvc run hv1 ceph.pool_create vms pg_num=64 size=3``
"""

from __future__ import annotations

from typing import Any

from pvc.ceph.cluster import mon_json, session
from pvc.ceph.errors import CephExists
from pvc.ceph.images import check_name, open_pool
from pvc.ceph.sizes import sized
from pvc.errors import InvalidArgument
from pvc.execution.context import ExecContext

# --- cluster -------------------------------------------------------------------------------------


def status(ctx: ExecContext) -> dict[str, Any]:
    """Cluster summary: fsid, health, mons, OSDs up/in, pools, PGs and capacity.

    Example: ``pvc call ceph.status``
    """
    with session(ctx.resources, ctx.config, "read cluster status") as cluster:
        st = mon_json(cluster, "status")
    osds, pgs = st["osdmap"], st["pgmap"]
    return {
        "fsid": st["fsid"],
        "health": st["health"]["status"],
        "mons": st["monmap"]["num_mons"],
        "osds": {"total": osds["num_osds"], "up": osds["num_up_osds"], "in": osds["num_in_osds"]},
        "pools": pgs.get("num_pools", 0),
        "pgs": pgs.get("num_pgs", 0),
        "objects": pgs.get("num_objects", 0),
        **sized("bytes_total", pgs.get("bytes_total", 0)),
        **sized("bytes_used", pgs.get("bytes_used", 0)),
        **sized("bytes_avail", pgs.get("bytes_avail", 0)),
    }


def health(ctx: ExecContext) -> dict[str, Any]:
    """``HEALTH_OK``/``HEALTH_WARN``/``HEALTH_ERR`` and each active check with its message.

    Example: ``pvc run 'hv*' ceph.health``
    """
    with session(ctx.resources, ctx.config, "read cluster health") as cluster:
        data = mon_json(cluster, "health", detail="detail")
    checks = {
        name: {"severity": check["severity"], "message": check["summary"]["message"],
               "detail": [d["message"] for d in check.get("detail", [])]}
        for name, check in data.get("checks", {}).items()
    }
    return {"status": data["status"], "checks": checks}


def df(ctx: ExecContext) -> dict[str, Any]:
    """Raw capacity and per-pool usage (needs a running ceph-mgr; lags writes by a few seconds).

    Example: ``pvc call ceph.df``
    """
    with session(ctx.resources, ctx.config, "read usage") as cluster:
        data = mon_json(cluster, "df")
    total = data["stats"]
    return {
        **sized("total", total["total_bytes"]),
        **sized("used", total["total_used_raw_bytes"]),
        **sized("avail", total["total_avail_bytes"]),
        "pools": [_pool_usage(p) for p in data["pools"]],
    }


def _pool_usage(pool: dict[str, Any]) -> dict[str, Any]:
    st = pool["stats"]
    return {"name": pool["name"], "id": pool["id"], "objects": st["objects"], **sized("stored", st["stored"]),
            **sized("used", st["bytes_used"]), **sized("max_avail", st["max_avail"])}


def osd_list(ctx: ExecContext) -> list[dict[str, Any]]:
    """Every OSD: id, name, host, up/in, weights and device class.

    Example: ``pvc call ceph.osd_list``
    """
    with session(ctx.resources, ctx.config, "list OSDs") as cluster:
        nodes = mon_json(cluster, "osd tree")["nodes"]
    host_of = {child: n["name"] for n in nodes if n["type"] == "host" for child in n.get("children", [])}
    return [
        {"id": n["id"], "name": n["name"], "host": host_of.get(n["id"]), "up": n["status"] == "up",
         "in": n["reweight"] > 0, "weight": n["crush_weight"], "reweight": n["reweight"],
         "class": n.get("device_class")}
        for n in nodes if n["type"] == "osd"
    ]


# --- pools ---------------------------------------------------------------------------------------


def pool_list(ctx: ExecContext) -> list[dict[str, Any]]:
    """Every pool: id, replication, PGs, applications and usage.

    Example: ``pvc call ceph.pool_list``
    """
    with session(ctx.resources, ctx.config, "list pools") as cluster:
        detail = mon_json(cluster, "osd pool ls", detail="detail")
        usage = {p["name"]: _pool_usage(p) for p in mon_json(cluster, "df")["pools"]}
    return [
        {"name": p["pool_name"], "id": p["pool_id"], "size": p["size"], "min_size": p["min_size"],
         "pg_num": p["pg_num"], "applications": sorted(p.get("application_metadata", {})),
         **{k: v for k, v in usage.get(p["pool_name"], {}).items() if k not in ("name", "id")}}
        for p in detail
    ]


def pool_create(ctx: ExecContext, name: str, pg_num: int = 8, size: int | None = None,
                application: str = "rbd") -> dict[str, Any]:
    """Create a replicated pool with ``pg_num`` PGs (and ``size`` replicas), tagged for
    ``application``; an ``rbd`` pool is initialised for RBD images.

    Example: ``pvc run hv1 ceph.pool_create vms pg_num=64 size=3``
    """
    import rbd

    check_name("pool", name)
    if not 1 <= pg_num <= 65536:
        raise InvalidArgument(f"ceph: pg_num must be an integer from 1 to 65536, got {pg_num!r}")
    with session(ctx.resources, ctx.config, f"create pool '{name}'") as cluster:
        if cluster.pool_exists(name):
            raise CephExists(f"ceph: pool '{name}' already exists")
        mon_json(cluster, "osd pool create", f"create pool '{name}'", pool=name, pg_num=pg_num, pgp_num=pg_num)
        if size is not None:
            _set(cluster, name, "size", str(size))
        with open_pool(cluster, name) as ioctx:
            if application == "rbd":
                rbd.RBD().pool_init(ioctx, False)
            else:
                mon_json(cluster, "osd pool application enable", pool=name, app=application)
    return {"name": name, "pg_num": pg_num, "size": size, "application": application, "created": True}


def pool_remove(ctx: ExecContext, name: str) -> dict[str, Any]:
    """Delete a pool and everything in it (the mons must allow pool deletion).

    Example: ``pvc run hv1 ceph.pool_remove scratch``
    """
    with session(ctx.resources, ctx.config, f"remove pool '{name}'") as cluster, open_pool(cluster, name):
        mon_json(cluster, "osd pool rm", f"remove pool '{name}'", pool=name, pool2=name,
                 yes_i_really_really_mean_it=True)
    return {"name": name, "removed": True}


def pool_set(ctx: ExecContext, name: str, key: str, value: Any) -> dict[str, Any]:
    """Set one pool option (``size``, ``min_size``, ``pg_num``, ``target_size_bytes``, ...).

    Example: ``pvc run hv1 ceph.pool_set vms size 3``
    """
    if not key:
        raise InvalidArgument(f"ceph: pool option name must be a non-empty string, got {key!r}")
    with session(ctx.resources, ctx.config, f"set {key} on pool '{name}'") as cluster, open_pool(cluster, name):
        _set(cluster, name, key, str(value))
    return {"name": name, "key": key, "value": str(value)}


def _set(cluster: Any, pool: str, key: str, value: str) -> None:
    mon_json(cluster, "osd pool set", f"set {key}={value} on pool '{pool}'", pool=pool, var=key, val=value,
             yes_i_really_mean_it=True)
