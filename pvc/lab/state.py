"""``DIR/lab.json``: what a lab runs, as typed records, read by any script that drives the lab.

Written atomically (a temporary file in DIR, fsync, rename) with mode 0600 in a 0700 DIR, and
changed only under an exclusive ``flock`` on ``DIR/lab.lock`` (:func:`update`), because the
``up`` command and each BMC's power-on (a separate process) record PIDs concurrently. Secrets never
appear here: a BMC record names the 0600 file that holds its password.

Example::

    lab = load(Path("/tmp/lab"))
    node = lab.node("hv1")
    print(node.address, node.libvirt_uri, node.bmc.port, node.minion_pid)
    update(Path("/tmp/lab"), lambda lab: lab.with_node(dataclasses.replace(node, power="off")))
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pvc.errors import ConfigError
from pvc.lab.errors import LabNotFound, UnknownNode
from pvc.typedconf import build

STATE_FILE = "lab.json"
LOCK_FILE = "lab.lock"
VERSION = 1


@dataclass(frozen=True)
class ZkServer:
    id: int
    dir: str
    pid: int
    client_port: int
    quorum_port: int
    election_port: int


@dataclass(frozen=True)
class ZooKeeper:
    """``hosts`` is the kazoo/zkCli connect string (``10.213.7.1:2181,...``)."""

    hosts: str
    servers: tuple[ZkServer, ...] = ()


@dataclass(frozen=True)
class Master:
    name: str
    config_dir: str
    pid: int
    address: str
    ret_port: int
    channel_port: int


@dataclass(frozen=True)
class Bmc:
    """Reach it with ``ipmitool -I lanplus -C 3 -N 1 -R 1 -H host -p port -U user -f password_file``."""

    host: str
    port: int
    user: str
    password_file: str
    dir: str
    pid: int = 0


@dataclass(frozen=True)
class Node:
    """One simulated hypervisor. PIDs are host PIDs (0 while the node is off or booting);
    ``libvirt_uri`` works from the host and from every node, ``libvirt_tcp_uri`` over the bridge."""

    name: str
    index: int
    netns: str
    veth: str
    address: str
    mac: str
    dir: str
    minion_config_dir: str
    libvirt_uri: str
    libvirt_tcp_uri: str
    bmc: Bmc
    power: str = "off"  # what the BMC reports: "on" from the power-on command, "off" once the node is killed
    boot: int = 0       # counts power-ons: a late PID report of an earlier boot is ignored
    unshare_pid: int = 0
    init_pid: int = 0
    libvirtd_pid: int = 0
    minion_pid: int = 0


@dataclass(frozen=True)
class Ceph:
    """The lab's memstore Ceph (``up --ceph``): drive it with ``ceph -c CONF``, or librados with
    ``conf`` and ``keyring`` (client.admin's key only, a 0600 file). ``monitor`` is the mon's v1
    ``host:port`` on the bridge (reachable from every node); RBD images of the lab's guests are
    ``POOL/<vm>-disk0``; every node's libvirtd holds client.admin's key as the ceph secret
    ``secret_uuid``. PIDs are host PIDs."""

    dir: str
    conf: str
    keyring: str
    monitor: str
    pool: str
    secret_uuid: str
    mon_pid: int = 0
    mgr_pid: int = 0
    osd_pid: int = 0


@dataclass(frozen=True)
class Vm:
    name: str
    node: str


@dataclass(frozen=True)
class Lab:
    dir: str
    prefix: str   # names of this lab's links and namespaces start with it
    bridge: str
    subnet: str   # "10.213.7.0/24"
    host_address: str
    bridge_mac: str
    started: float
    zookeeper: ZooKeeper
    masters: tuple[Master, ...] = ()
    nodes: tuple[Node, ...] = ()
    vms: tuple[Vm, ...] = ()
    ceph: Ceph | None = None
    version: int = VERSION

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise UnknownNode(f"no node {name!r} in this lab (nodes: {', '.join(n.name for n in self.nodes)})")

    def with_node(self, node: Node) -> Lab:
        return dataclasses.replace(self, nodes=tuple(node if n.name == node.name else n for n in self.nodes))


def path(lab_dir: Path) -> Path:
    return Path(lab_dir) / STATE_FILE


def exists(lab_dir: Path) -> bool:
    return path(lab_dir).exists()


def load(lab_dir: Path) -> Lab:
    where = path(lab_dir)
    try:
        data = json.loads(where.read_text())
    except FileNotFoundError:
        raise LabNotFound(f"no lab in {lab_dir} (no {STATE_FILE}; start one with: pvc lab up --dir {lab_dir})") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where}: unreadable: {exc}") from None
    if data.get("version") != VERSION:
        raise ConfigError(f"{where}: version {data.get('version')!r}, this pvc reads version {VERSION}")
    return build(Lab, data, where=str(where))


def save(lab: Lab) -> None:
    """Replace lab.json atomically (readers see the old or the new file, never half of one)."""
    target = path(Path(lab.dir))
    tmp = target.with_name(f".{STATE_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(dataclasses.asdict(lab), fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


@contextmanager
def locked(lab_dir: Path) -> Iterator[None]:
    """Hold the lab's lock: one writer of lab.json at a time, across processes."""
    fd = os.open(Path(lab_dir) / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def update(lab_dir: Path, change: Callable[[Lab], Lab]) -> Lab:
    """Read, change and write lab.json under the lock; returns the new record."""
    with locked(lab_dir):
        lab = change(load(lab_dir))
        save(lab)
        return lab


def update_node(lab_dir: Path, name: str, **fields: object) -> Lab:
    return update(lab_dir, lambda lab: lab.with_node(dataclasses.replace(lab.node(name), **fields)))  # type: ignore[arg-type]
