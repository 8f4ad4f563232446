"""A throwaway ZooKeeper (standalone or a 3-server ensemble) for tests, plus test agents.

Debian's ``zookeeper`` package (scripts/setup.d/40-zk.sh) run by hand as our child: data in a
temp dir, loopback only, AdminServer off, tickTime 200 ms so session expiry is precise (timeout
+ <= 1 tick), JVM kept small. Stopped by PID. ~0.3-1 s to serve standalone, 1-2 s ensemble.
See ../shared/recipes/zk-ipmi/README.md for the measurements behind these settings.

Example::

    with ZooKeeperServer() as zk:
        cc = pvc.cluster.client.connect(zk.hosts)

Agents run as separate processes so that a test can SIGKILL them::

    python -m tests.cluster.zookeeper keepalive HOSTS ROOT NODE SESSION_TIMEOUT INTERVAL
    python -m tests.cluster.zookeeper contend HOSTS ROOT ID SESSION_TIMEOUT

Each prints ``ready`` once registered (keepalive) or contending, and ``primary`` when elected.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

from tests.cluster.ports import free_ports

JARS = ["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-simple.jar"]
JVM = ["-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dzookeeper.forceSync=no",
       "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"]


def four_letter(port: int, cmd: str = "srvr", timeout: float = 0.5) -> str:
    """A ZooKeeper four-letter command's answer, '' if the server does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(cmd.encode())
            chunks = []
            while chunk := s.recv(4096):
                chunks.append(chunk)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


def mode(port: int) -> str:
    """``standalone``, ``leader``, ``follower`` or '' (not serving)."""
    for line in four_letter(port).splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return ""


class ZooKeeperServer:
    """``servers`` = 1 (standalone) or 3 (ensemble on 127.0.0.1). ``hosts`` is the connect string."""

    def __init__(self, servers: int = 1, tick_ms: int = 200) -> None:
        if not os.path.exists(JARS[0]):
            raise RuntimeError("ZooKeeper is not installed: run scripts/setup.sh (40-zk.sh)")
        self.servers, self.tick_ms = servers, tick_ms
        self.root = Path(tempfile.mkdtemp(prefix="pvc-zk-"))
        ports = free_ports(3 * servers)
        self.client_ports = ports[:servers]
        self._peer_ports = ports[servers:]
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def hosts(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.client_ports)

    def _config(self, i: int) -> Path:
        d = self.root / f"zk{i}"
        (d / "data").mkdir(parents=True, exist_ok=True)
        lines = [f"tickTime={self.tick_ms}", "initLimit=20", "syncLimit=10",
                 f"minSessionTimeout={2 * self.tick_ms}", "maxSessionTimeout=60000",
                 f"dataDir={d / 'data'}", f"clientPort={self.client_ports[i]}",
                 "clientPortAddress=127.0.0.1", "admin.enableServer=false",
                 "4lw.commands.whitelist=*", "maxClientCnxns=0"]
        if self.servers > 1:
            (d / "data" / "myid").write_text(f"{i + 1}\n")
            for j in range(self.servers):
                q, e = self._peer_ports[2 * j], self._peer_ports[2 * j + 1]
                lines.append(f"server.{j + 1}=127.0.0.1:{q}:{e}")
        cfg = d / "zoo.cfg"
        cfg.write_text("\n".join(lines) + "\n")
        return cfg

    def start_server(self, i: int) -> None:
        cfg = self._config(i)
        with open(cfg.parent / "zk.log", "ab") as log:
            self.procs[i] = subprocess.Popen(
                ["java", *JVM, "-cp", ":".join(JARS),
                 "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(cfg)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def start(self, timeout: float = 60.0) -> ZooKeeperServer:
        for i in range(self.servers):
            self.start_server(i)
        self.wait_serving(timeout)
        return self

    def wait_serving(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [i for i, p in self.procs.items() if p.poll() is None]
            if live and all(mode(self.client_ports[i]) for i in live):
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"ZooKeeper not serving after {timeout:g} s (logs in {self.root})")

    def leader(self) -> int:
        """Index of the ensemble's leader (or of the standalone server)."""
        for i in self.procs:
            if mode(self.client_ports[i]) in ("leader", "standalone"):
                return i
        raise LookupError("no leader")

    def kill(self, i: int) -> None:
        """SIGKILL server ``i`` (an ensemble member crash)."""
        proc = self.procs.pop(i)
        proc.kill()
        proc.wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spawn_agent(*args: str) -> subprocess.Popen[str]:
    """Start an agent (see module doc) and wait for its ``ready`` line."""
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "tests.cluster.zookeeper", *args], cwd=repo,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        proc.wait()
        raise RuntimeError(f"agent {args[0]} did not start: {line!r}")
    return proc


def _agent(argv: list[str]) -> int:
    from pvc.cluster.client import connect
    from pvc.cluster.records import NodeResources
    from pvc.cluster.store import ClusterStore

    kind, hosts, root, name, session = argv[:5]
    cc = connect(hosts, session_timeout=float(session), timeout=30)
    store = ClusterStore.open(cc, root)
    if kind == "keepalive":
        from pvc.cluster.keepalive import NodeKeepalive

        ka = NodeKeepalive(store, name, lambda: NodeResources(memory_total=4096, memory_used=512,
                                                              load=0.1), float(argv[5]))
        ka.start()
        print("ready", flush=True)
    else:
        from pvc.cluster.election import PrimaryElection

        el = PrimaryElection(store, name, on_gain=lambda: print("primary", flush=True))
        print("ready", flush=True)  # before start(): the two lines never interleave
        el.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(_agent(sys.argv[1:]))
