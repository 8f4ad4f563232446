"""The lab's Ceph: one mon, one mgr and one memstore OSD, run by hand in a directory (no
systemd, nothing under /etc/ceph), listening on one address.

In a lab that address is the bridge's host address, so every node's namespace reaches the
monitor and the OSD (a guest's QEMU opens its RBD image from inside its node). The test fixtures
(``tests/cluster/ceph.py``) run the same cluster on 127.0.0.1. Settings come from the ceph recipe
(../shared/recipes/ceph): memstore (nothing on disk, ~5 s to HEALTH_OK with the fast paxos and
mgr-stats intervals), pool size 1, the two warnings a one-OSD cluster always raises turned off.

Every file a daemon writes is under that directory (the mon's cluster and audit logs too,
which default to /var/log/ceph). Two keyrings, both 0600: ``keyring`` holds every daemon's key (mon., mgr.x, osd.0 and
client.admin: ``ceph-mon --mkfs`` imports them all), ``client.admin.keyring`` only the client's
(what minions and the host use, named in the conf's ``[client]`` section). Daemons are stopped
by PID, the OSD first (a mon stopped first makes the OSD wait 5 s for its ack).

The mgr is only needed for statistics (``ceph.df``, pool stats): RBD works without it, so a lab
waits for the OSD and its pool, not for the mgr (:func:`wait_ready` with ``mgr=False``).

Example::

    cfg = configure(Path("/tmp/lab/ceph"), "10.213.7.1", pick_port("10.213.7.1"), pool="vms")
    cfg = start(cfg); wait_ready(cfg, mgr=False)
    stop(cfg)
"""

from __future__ import annotations

import base64
import dataclasses
import os
import shutil
import socket
import struct
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pvc.errors import PvcError
from pvc.lab import preflight, procs
from pvc.lab.errors import DaemonExited, StartFailed
from pvc.lab.state import Ceph

if TYPE_CHECKING:
    import rados

PROGRAMS = ("ceph-mon", "ceph-mgr", "ceph-osd")
CLIENT = "client.admin"
START_TIMEOUT = 120.0  # the mgr loads ~25 Python modules: 2 s idle, 25 s on a loaded 2-core box
PORT_WINDOW = (10, 110)  # daemons other than the mon bind in mon port + 10 .. + 110

CONF_TEMPLATE = """\
[global]
fsid = {fsid}
mon host = [v2:{address}:{v2port},v1:{address}:{port}]
mon initial members = a
public addr = {address}
public network = {address}/32
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
mon cluster log file = default={root}/log/$cluster.$channel.log cluster={root}/log/$cluster.log
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
keyring = {root}/client.admin.keyring
# clients of one process would share client.admin.asok and print librbd errors on stderr
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
    (CLIENT, ("mon", "allow *", "osd", "allow *", "mgr", "allow *")),
    ("mgr.x", ("mon", "allow profile mgr", "osd", "allow *")),
    ("osd.0", ("mon", "allow profile osd", "mgr", "allow profile osd", "osd", "allow *")),
)


def _listening(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def pick_port(address: str) -> int:
    """A mon port P on ``address`` with P and P+1 free (the daemons bind in P+10..P+110)."""
    return preflight.free_port(address, count=2, room=PORT_WINDOW[1])


def configure(root: Path, address: str, port: int, pool: str = "") -> Ceph:
    """Write the conf and both keyrings (fresh keys) into ``root``; ``pool`` is created by
    :func:`wait_ready` for RBD images ("" for none)."""
    root = Path(root)
    shutil.rmtree(root, ignore_errors=True)  # a fresh cluster each time, even in a reused lab DIR
    for sub in ("log", "run", "mon", "mgr/mgr.x", "osd.0", "crash"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    conf = root / "ceph.conf"
    conf.write_text(CONF_TEMPLATE.format(fsid=uuid.uuid4(), address=address, port=port, v2port=port + 1,
                                         pmin=port + PORT_WINDOW[0], pmax=port + PORT_WINDOW[1], root=root))
    keys = {entity: new_key() for entity, _caps in KEYS}
    _write_private(root / "keyring", "".join(keyring_entry(entity, keys[entity], caps) for entity, caps in KEYS))
    client_keyring = root / "client.admin.keyring"
    _write_private(client_keyring, keyring_entry(CLIENT, keys[CLIENT]))
    return Ceph(dir=str(root), conf=str(conf), keyring=str(client_keyring), monitor=f"{address}:{port}",
                pool=pool, secret_uuid=str(uuid.uuid4()))


def new_key() -> str:
    """A fresh cephx secret, as ``ceph-authtool --gen-key`` makes it (without its ~0.1 s start):
    base64 of type 1 (AES), creation time (seconds, nanoseconds), length 16, 16 random bytes."""
    now = time.time_ns()
    return base64.b64encode(struct.pack("<HIIH", 1, now // 10**9, now % 10**9, 16) + os.urandom(16)).decode()


def keyring_entry(entity: str, key: str, caps: tuple[str, ...] = ()) -> str:
    """One ``[entity]`` section of a keyring: its key and its caps (``("mon", "allow *", ...)``)."""
    lines = [f"[{entity}]", f"\tkey = {key}"]
    lines += [f'\tcaps {caps[i]} = "{caps[i + 1]}"' for i in range(0, len(caps), 2)]
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _run(*argv: str) -> str:
    proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise StartFailed(f"ceph: {' '.join(argv[:2])} failed: {(proc.stderr or proc.stdout).strip()[-400:]}")
    return proc.stdout


def _spawn(cfg: Ceph, name: str, *argv: str) -> int:
    return procs.spawn([*argv, "-c", cfg.conf, "-f"], log=Path(cfg.dir) / "log" / f"{name}.out")


def marker(cfg: Ceph) -> str:
    """What every daemon of this cluster has on its command line (its conf's path)."""
    return cfg.conf


@contextmanager
def admin(cfg: Ceph, timeout: int = 30) -> Iterator[rados.Rados]:
    """A client.admin connection to the cluster, every operation bounded by ``timeout`` s."""
    from pvc.ceph.cluster import CephConfig, connect

    cluster = connect(CephConfig(conf=cfg.conf, client=CLIENT, keyring=cfg.keyring, timeout=timeout))
    try:
        yield cluster
    finally:
        cluster.shutdown()


def mon_command(cluster: rados.Rados, prefix: str, **args: Any) -> Any:
    """A JSON mon command; a failure raises the mapped pvc error (see :mod:`pvc.ceph.cluster`),
    no answer within the connection's timeout :class:`StartFailed`."""
    from pvc.ceph.cluster import mon_json

    try:
        return mon_json(cluster, prefix, **args)
    except TimeoutError:
        raise StartFailed(f"ceph: '{prefix}': the cluster did not answer in time (see DIR/ceph/log)") from None


def start(cfg: Ceph, tries: int = 2, say: Callable[[str], None] = lambda _msg: None) -> Ceph:
    """Make the mon's store and start mon, mgr and OSD; returns the config used, with the PIDs
    (record them at once: :func:`stop` needs them). A mon that exits before it listens (its port
    taken between :func:`pick_port` and its bind, or killed) costs the cluster, not the caller:
    it starts again from nothing on another port, up to ``tries`` times in all, ``say`` told why."""
    for attempt in range(1, tries + 1):
        try:
            return _start_once(cfg)
        except DaemonExited as exc:
            if attempt == tries or exc.daemon != "mon.a":
                raise
            say(f"{exc}; once more on another port")
            cfg = _elsewhere(cfg)
    raise AssertionError("unreachable: the last try returns or raises")


def _elsewhere(cfg: Ceph) -> Ceph:
    """A new, empty cluster in the same directory with the same pool, on a port picked now."""
    root = Path(cfg.dir)
    address = cfg.monitor.rsplit(":", 1)[0]
    shutil.rmtree(root)
    return configure(root, address, pick_port(address), cfg.pool)


def _start_once(cfg: Ceph) -> Ceph:
    root = Path(cfg.dir)
    fsid = next(line.split("=")[1].strip() for line in Path(cfg.conf).read_text().splitlines()
                if line.startswith("fsid"))
    address, port = cfg.monitor.rsplit(":", 1)
    monmap = str(root / "monmap")
    _run("monmaptool", "--create", "--fsid", fsid, "--addv", "a",
         f"[v2:{address}:{int(port) + 1},v1:{address}:{port}]", monmap)
    _run("ceph-mon", "-c", cfg.conf, "--mkfs", "-i", "a", "--monmap", monmap, "--keyring", str(root / "keyring"))
    cfg = dataclasses.replace(cfg, mon_pid=_spawn(cfg, "mon.a", "ceph-mon", "-i", "a"))
    try:
        # a mon that cannot bind exits after ~10 s: say so then, not after librados' 30 s
        _until(cfg, lambda: _listening(address, int(port)), time.monotonic() + START_TIMEOUT, "the mon to listen")
        with admin(cfg) as cluster:
            # the always-on devicehealth module would otherwise create a pool of its own
            mon_command(cluster, "config set", who="mgr", name="mgr/devicehealth/enable_monitoring",
                        value="false", force=True)
            cfg = dataclasses.replace(cfg, mgr_pid=_spawn(cfg, "mgr.x", "ceph-mgr", "-i", "x"))
            osd_uuid = str(uuid.uuid4())
            mon_command(cluster, "osd new", uuid=osd_uuid, id=0)
        _run("ceph-osd", "-c", cfg.conf, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
        return dataclasses.replace(cfg, osd_pid=_spawn(cfg, "osd.0", "ceph-osd", "-i", "0"))
    except BaseException as exc:
        stop(cfg)  # whatever went wrong, no daemon of a half-made cluster outlives this call
        if isinstance(exc, PvcError) and not isinstance(exc, StartFailed):
            raise StartFailed(f"ceph: could not start on {cfg.monitor}: {exc} "
                              f"({procs.tail(root / 'log' / 'mon.a.log')})") from None
        raise


def wait_ready(cfg: Ceph, mgr: bool = True, timeout: float = START_TIMEOUT) -> None:
    """Until the OSD is up and ``cfg.pool`` exists, initialised for RBD; with ``mgr``, also until
    the mgr is available and the cluster reports HEALTH_OK."""
    deadline = time.monotonic() + timeout
    with admin(cfg) as cluster:
        _until(cfg, lambda: mon_command(cluster, "osd stat")["num_up_osds"] == 1, deadline, "the OSD to come up")
        if cfg.pool:
            create_pool(cluster, cfg.pool)
        if mgr:
            _until(cfg, lambda: mon_command(cluster, "mgr stat")["available"], deadline, "the mgr")
            _until(cfg, lambda: mon_command(cluster, "health")["status"] == "HEALTH_OK", deadline, "HEALTH_OK")


def create_pool(cluster: rados.Rados, name: str) -> None:
    """A pool initialised for RBD images."""
    import rbd

    if not cluster.pool_exists(name):
        cluster.create_pool(name)
    with cluster.open_ioctx(name) as ioctx:
        rbd.RBD().pool_init(ioctx, False)


def client_key(cfg: Ceph) -> bytes:
    """client.admin's secret key, raw (what a libvirt ceph secret holds)."""
    with admin(cfg) as cluster:
        return base64.b64decode(mon_command(cluster, "auth get-key", entity=CLIENT)["key"])


def is_running(cfg: Ceph, pid: int) -> bool:
    return procs.alive(pid, marker(cfg))


def stop(cfg: Ceph) -> bool:
    """Stop OSD, mgr, then mon, by PID; True if all are gone."""
    stopped = [procs.stop(pid, marker(cfg), grace=10.0) for pid in (cfg.osd_pid, cfg.mgr_pid, cfg.mon_pid) if pid]
    return all(stopped)


def daemons(cfg: Ceph) -> dict[str, int]:
    """Each daemon's name (as in its log file) and PID."""
    return {"mon.a": cfg.mon_pid, "mgr.x": cfg.mgr_pid, "osd.0": cfg.osd_pid}


def _until(cfg: Ceph, probe: Callable[[], Any], deadline: float, what: str) -> None:
    while not probe():
        for name, pid in daemons(cfg).items():
            if pid and not is_running(cfg, pid):
                logs = Path(cfg.dir) / "log"
                raise DaemonExited(f"ceph: {name} {procs.exited(pid)} while "
                                   f"waiting for {what}: {procs.tail(logs / f'{name}.out')} "
                                   f"{procs.tail(logs / f'{name}.log')}", daemon=name)
        if time.monotonic() >= deadline:
            raise StartFailed(f"ceph: timed out waiting for {what} on {cfg.monitor}")
        time.sleep(0.1)

