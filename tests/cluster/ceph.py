"""A throwaway memstore Ceph cluster (one mon, one mgr, one OSD) on 127.0.0.1 for tests.

Everything lives in one temporary directory (conf, keyring, mon store, logs); nothing under
/etc/ceph, no systemd. The daemons are our children, stopped by PID, OSD first (a mon stopped
first makes each OSD wait 5 s for its ack). The FAST settings (paxos and mgr stats intervals)
bring it from nothing to HEALTH_OK in about 5 s; see ../shared/recipes/ceph/README.md.

Example::

    with CephCluster() as ceph:
        rados.Rados(conffile=ceph.conf).connect(timeout=10)
"""

from __future__ import annotations

import json
import random
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any, Self

from tests.cluster.pvc import stop_process
from tests.cluster.wait import wait_for

CONF_TEMPLATE = """\
[global]
fsid = {fsid}
mon host = [v2:127.0.0.1:{v2port},v1:127.0.0.1:{port}]
mon initial members = a
public addr = 127.0.0.1
public network = 127.0.0.0/8
ms bind ipv4 = true
ms bind ipv6 = false
ms bind port min = {pmin}
ms bind port max = {pmax}
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = {root}/keyring
run dir = {root}/run
admin socket = {root}/run/$name.asok
log file = {root}/log/$name.log
log to stderr = false
err to stderr = true
crash dir = {root}/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon data avail warn = 2
mon data avail crit = 1
osd objectstore = memstore
memstore device bytes = 1073741824
rbd default features = 61
paxos propose interval = 0.1
paxos min wait = 0.01
mgr stats period = 1
mon mgr digest period = 1
[client]
# clients of one test process would share client.admin.asok and print librbd errors on stderr
admin socket =
err to stderr = false
[mon]
mon data = {root}/mon/$name
mgr initial modules =
[osd]
osd data = {root}/$name
[mgr]
mgr data = {root}/mgr/$name
"""

KEYS = (
    ("mon.", ("mon", "allow *")),
    ("client.admin", ("mon", "allow *", "osd", "allow *", "mgr", "allow *")),
    ("mgr.x", ("mon", "allow profile mgr", "osd", "allow *")),
    ("osd.0", ("mon", "allow profile osd", "mgr", "allow profile osd", "osd", "allow *")),
)
START_TIMEOUT = 120.0  # the mgr loads ~25 Python modules: 2 s idle, 25 s on a loaded 2-core box


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _pick_ports() -> int:
    """A mon port P with P and P+1 free; daemons bind in the window P+10..P+110."""
    for _ in range(100):
        port = random.randrange(20000, 40000, 2)
        if _port_free(port) and _port_free(port + 1):
            return port
    raise RuntimeError("ceph test cluster: no free port pair found on 127.0.0.1")


class CephCluster:
    """One mon (a), one mgr (x), one memstore OSD (0), cephx, in a fresh temp directory."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pvc-ceph-"))
        self.port = _pick_ports()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._admin: Any = None

    @property
    def conf(self) -> str:
        return str(self.root / "ceph.conf")

    def _run(self, *cmd: str) -> str:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60)
        return out.stdout

    def _daemon(self, name: str, *cmd: str) -> None:
        with open(self.root / "log" / f"{name}.out", "ab") as log:
            self.procs[name] = subprocess.Popen([*cmd, "-c", self.conf, "-f"], stdin=subprocess.DEVNULL,
                                                stdout=log, stderr=log)

    def _write_conf_and_keys(self) -> None:
        for sub in ("log", "run", "mon", "mgr/mgr.x", "osd.0", "crash"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "ceph.conf").write_text(CONF_TEMPLATE.format(
            fsid=uuid.uuid4(), port=self.port, v2port=self.port + 1, pmin=self.port + 10,
            pmax=self.port + 110, root=self.root))
        keyring = str(self.root / "keyring")
        self._run("ceph-authtool", "--create-keyring", keyring)
        for entity, caps in KEYS:
            cap_args = [a for i in range(0, len(caps), 2) for a in ("--cap", caps[i], caps[i + 1])]
            self._run("ceph-authtool", keyring, "--gen-key", "-n", entity, *cap_args)

    def mon_command(self, prefix: str, **args: Any) -> Any:
        """A JSON mon command through the cluster's admin handle; raises on a non-zero return."""
        ret, out, err = self._admin.mon_command(json.dumps({"prefix": prefix, "format": "json", **args}), b"")
        if ret != 0:
            raise RuntimeError(f"ceph test cluster: {prefix}: {ret} {err}")
        return json.loads(out) if out else None

    def create_pool(self, name: str) -> None:
        """A pool initialised for RBD images (the admin handle, not the code under test)."""
        import rbd

        self._admin.create_pool(name)
        with self._admin.open_ioctx(name) as ioctx:
            rbd.RBD().pool_init(ioctx, False)

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
        self._write_conf_and_keys()
        monmap = str(self.root / "monmap")
        fsid = next(line.split("=")[1].strip() for line in (self.root / "ceph.conf").read_text().splitlines()
                    if line.startswith("fsid"))
        self._run("monmaptool", "--create", "--fsid", fsid, "--addv", "a",
                  f"[v2:127.0.0.1:{self.port + 1},v1:127.0.0.1:{self.port}]", monmap)
        self._run("ceph-mon", "-c", self.conf, "--mkfs", "-i", "a", "--monmap", monmap,
                  "--keyring", str(self.root / "keyring"))
        self._daemon("mon.a", "ceph-mon", "-i", "a")
        self._admin = self.client(timeout=30)
        # the always-on devicehealth module would otherwise create a pool of its own
        self.mon_command("config set", who="mgr", name="mgr/devicehealth/enable_monitoring",
                         value="false", force=True)
        self._daemon("mgr.x", "ceph-mgr", "-i", "x")
        osd_uuid = str(uuid.uuid4())
        self.mon_command("osd new", uuid=osd_uuid, id=0)
        self._run("ceph-osd", "-c", self.conf, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
        self._daemon("osd.0", "ceph-osd", "-i", "0")
        wait_for(lambda: self.mon_command("osd stat")["num_up_osds"] == 1, START_TIMEOUT, "the OSD to come up", 0.1)
        wait_for(lambda: self.mon_command("mgr stat")["available"], START_TIMEOUT, "the mgr to become available", 0.1)
        wait_for(lambda: self.mon_command("health")["status"] == "HEALTH_OK", START_TIMEOUT, "HEALTH_OK", 0.1)
        return self

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.shutdown()
            self._admin = None
        for name in sorted(self.procs, key=lambda n: not n.startswith("osd.")):  # OSDs first
            stop_process(self.procs.pop(name), grace=10)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
