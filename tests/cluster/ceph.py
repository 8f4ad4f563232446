"""A throwaway memstore Ceph cluster (one mon, one mgr, one OSD) on 127.0.0.1 for tests.

The cluster itself is the lab's (:mod:`pvc.lab.ceph`: conf, keyrings, daemons by PID, OSD first
on stop), run here in a fresh temporary directory on 127.0.0.1 and waited for up to HEALTH_OK
(tests read statistics, which need the mgr). This class adds what tests need on top: an admin
handle for set-up that is not the code under test, pools, and independent clients.

Example::

    with CephCluster() as ceph:
        rados.Rados(conffile=ceph.conf).connect(timeout=10)
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Self

from pvc.lab import ceph
from pvc.lab.state import Ceph

ADDRESS = "127.0.0.1"


class CephCluster:
    """One mon (a), one mgr (x), one memstore OSD (0), cephx, in a fresh temp directory."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pvc-ceph-"))
        self.cfg: Ceph | None = None
        self._admin: Any = None

    @property
    def port(self) -> int:
        """The mon's port (picked at start: another one if the first mon died before listening)."""
        assert self.cfg is not None, "the cluster is not started"
        return int(self.cfg.monitor.rsplit(":", 1)[1])

    @property
    def conf(self) -> str:
        return str(self.root / "ceph.conf")

    def mon_command(self, prefix: str, **args: Any) -> Any:
        """A JSON mon command through the cluster's admin handle; raises on a non-zero return."""
        ret, out, err = self._admin.mon_command(json.dumps({"prefix": prefix, "format": "json", **args}), b"")
        if ret != 0:
            raise RuntimeError(f"ceph test cluster: {prefix}: {ret} {err}")
        return json.loads(out) if out else None

    def create_pool(self, name: str) -> None:
        """A pool initialised for RBD images (the admin handle, not the code under test)."""
        ceph.create_pool(self._admin, name)

    def remove_pool(self, name: str) -> None:
        if self._admin.pool_exists(name):
            self._admin.delete_pool(name)

    def client(self, timeout: int = 10) -> Any:
        """A second, independent librados client (plays a VM's librbd in lock tests); shut it down."""
        import rados

        seconds = str(timeout)
        cluster = rados.Rados(conffile=self.conf, conf={
            "rados_mon_op_timeout": seconds, "rados_osd_op_timeout": seconds, "client_mount_timeout": seconds})
        cluster.connect(timeout=timeout)
        return cluster

    def start(self) -> Self:
        self.cfg = ceph.start(ceph.configure(self.root, ADDRESS, ceph.pick_port(ADDRESS)), say=print)
        ceph.wait_ready(self.cfg, mgr=True)
        self._admin = self.client(timeout=30)
        return self

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.shutdown()
            self._admin = None
        if self.cfg is not None:
            ceph.stop(self.cfg)
            self.cfg = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
