"""The lab's ZooKeeper: Debian's jars run by hand (no systemd), standalone or a 3-server ensemble.

Servers listen on the bridge address only, so the nodes reach them and nothing outside the
machine does. Settings for fast, honest tests (see the zk-ipmi recipe): ``tickTime=200`` (a
session expires at its timeout + at most one tick), ``maxSessionTimeout`` set explicitly (the
default would be 20 ticks = 4 s), fsync off, the Jetty AdminServer off (it would take :8080), and
a small serial-GC JVM. Ready means ``srvr`` reports a mode (standalone, leader or follower), read
with a short timeout: a four-letter command during startup can hang.

A server that exits before it serves is started once more (:func:`start_ready`): one CI run saw
a standalone server die in its first second without a line of log, never seen again in many
lab starts; the message says how it ended (exit code or signal) if it happens twice.

Example::

    servers = configure(Path("/tmp/lab"), "10.213.7.1", count=1)
    servers = start_ready("10.213.7.1", servers)
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

from pvc.lab import procs
from pvc.lab.errors import DaemonExited, StartFailed
from pvc.lab.state import ZkServer

JAVA = "/usr/bin/java"
CLASSPATH = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"
MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
CLIENT_PORT, QUORUM_PORT, ELECTION_PORT = 2181, 2888, 3888
TICK_MS = 200

ZOO_CFG = """\
tickTime={tick}
initLimit=20
syncLimit=10
dataDir={data}
clientPort={client_port}
clientPortAddress={address}
minSessionTimeout={min_session}
maxSessionTimeout=60000
maxClientCnxns=0
4lw.commands.whitelist=srvr,ruok,mntr,stat
admin.enableServer=false
"""


def configure(lab_dir: Path, address: str, count: int, port: Callable[[int], int] = int) -> list[ZkServer]:
    """Write the config of ``count`` servers (1 = standalone) under ``DIR/zk/<id>``; ``port``
    maps each usual port to the one to use (e.g. :func:`pvc.lab.preflight.tcp_port`)."""
    servers = [ZkServer(id=i, dir=str(Path(lab_dir) / "zk" / str(i)), pid=0, client_port=port(CLIENT_PORT + i - 1),
                        quorum_port=port(QUORUM_PORT + i - 1), election_port=port(ELECTION_PORT + i - 1))
               for i in range(1, count + 1)]
    for server in servers:
        d = Path(server.dir)
        shutil.rmtree(d / "data", ignore_errors=True)  # a fresh cluster each time, even in a reused DIR
        (d / "data").mkdir(parents=True)
        cfg = ZOO_CFG.format(tick=TICK_MS, data=d / "data", client_port=server.client_port, address=address,
                             min_session=2 * TICK_MS)
        if count > 1:
            (d / "data" / "myid").write_text(f"{server.id}\n")
            cfg += "".join(f"server.{s.id}={address}:{s.quorum_port}:{s.election_port}\n" for s in servers)
        (d / "zoo.cfg").write_text(cfg)
    return servers


def hosts(address: str, servers: list[ZkServer]) -> str:
    return ",".join(f"{address}:{s.client_port}" for s in servers)


def start(server: ZkServer) -> ZkServer:
    d = Path(server.dir)
    pid = procs.spawn([JAVA, "-Xmx128m", "-Xms32m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                       "-Dzookeeper.admin.enableServer=false", "-Dzookeeper.forceSync=no",
                       "-Dorg.slf4j.simpleLogger.showDateTime=true", "-cp", CLASSPATH, MAIN, str(d / "zoo.cfg")],
                      log=d / "zk.log")
    return dataclasses.replace(server, pid=pid)


def marker(server: ZkServer) -> str:
    return str(Path(server.dir) / "zoo.cfg")


def is_running(server: ZkServer) -> bool:
    return procs.alive(server.pid, marker(server))


def mode(address: str, port: int) -> str:
    """The server's ``Mode:`` from ``srvr`` ("" if it does not answer yet)."""
    try:
        with socket.create_connection((address, port), timeout=0.5) as sock:
            sock.sendall(b"srvr")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
    except OSError:
        return ""
    for line in data.decode(errors="replace").splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return ""


class ServerExited(DaemonExited):
    """A ZooKeeper server exited before it served; ``server`` is its id."""

    def __init__(self, server: ZkServer) -> None:
        super().__init__(f"ZooKeeper {server.id} {procs.exited(server.pid)}: "
                         f"{procs.tail(Path(server.dir) / 'zk.log', 800)}", daemon=f"zookeeper.{server.id}")
        self.server = server.id


def start_ready(address: str, servers: list[ZkServer], tries: int = 2,
                say: Callable[[str], None] = lambda _msg: None) -> list[ZkServer]:
    """Start ``servers`` and wait until they serve; a server that exits first is started again
    (``say`` told why), up to ``tries`` starts in all. Returns them with their PIDs."""
    started = [start(s) for s in servers]
    for attempt in range(1, tries + 1):
        try:
            wait_ready(address, started)
            return started
        except ServerExited as exc:
            if attempt == tries:
                raise
            say(f"starting ZooKeeper {exc.server} once more: {exc}")
            started = [start(s) if s.id == exc.server else s for s in started]
    raise AssertionError("unreachable: the last try returns or raises")


def wait_ready(address: str, servers: list[ZkServer], timeout: float = 60.0) -> None:
    """Wait until every server reports a mode; :class:`ServerExited` if one exits first."""
    deadline = time.monotonic() + timeout
    pending = list(servers)
    while pending:
        pending = [s for s in pending if mode(address, s.client_port) not in ("standalone", "leader", "follower")]
        for server in pending:
            if not is_running(server):
                raise ServerExited(server)
        if pending and time.monotonic() >= deadline:
            raise StartFailed(f"ZooKeeper not serving on {address} after {timeout:g}s")
        if pending:
            time.sleep(0.05)


def stop(server: ZkServer) -> bool:
    return procs.stop(server.pid, marker(server), grace=1.0)  # throwaway data: no need to wait for a clean stop
