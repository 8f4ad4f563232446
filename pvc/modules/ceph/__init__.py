"""The ``ceph`` module: cluster state, pools, RBD volumes, snapshots and locks through librados.

Every call uses the minion's one connection (see :mod:`pvc.ceph.cluster`), bounded by the
configured timeout; an unreachable cluster gives "ceph: cannot reach cluster via <conf> within
Ns", and librados errors become typed pvc errors ("ceph: pool 'x' does not exist"). Sizes are
accepted as bytes or "10G"/"512M" and returned as bytes plus a human form. One module for the
operator (``ceph.*``), two files: :mod:`.pools` (cluster state and pools, librados) and
:mod:`.volumes` (RBD images, snapshots and locks, librbd).

Minion config::

    modules:
      ceph: {conf: /etc/ceph/ceph.conf, client: client.admin, timeout: 10}

Example: ``pvc run hv1 ceph.volume_create vms vm1-disk0 10G``
"""

from __future__ import annotations

from pvc.ceph.cluster import CephConfig
from pvc.execution.registry import ModuleSpec
from pvc.modules.ceph.pools import (
    df,
    health,
    osd_list,
    pool_create,
    pool_list,
    pool_remove,
    pool_set,
    status,
)
from pvc.modules.ceph.volumes import (
    lock_break,
    lock_list,
    snapshot_create,
    snapshot_list,
    snapshot_protect,
    snapshot_remove,
    snapshot_rollback,
    snapshot_unprotect,
    volume_clone,
    volume_copy,
    volume_create,
    volume_info,
    volume_list,
    volume_remove,
    volume_resize,
)

SPEC = ModuleSpec(
    "ceph",
    functions=(status, health, df, osd_list, pool_list, pool_create, pool_remove, pool_set,
               volume_list, volume_create, volume_resize, volume_remove, volume_clone, volume_copy, volume_info,
               snapshot_list, snapshot_create, snapshot_remove, snapshot_rollback, snapshot_protect,
               snapshot_unprotect, lock_list, lock_break),
    requires=("rados",),
    config=CephConfig,
)
