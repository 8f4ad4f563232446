"""A pvc master and minions as real processes on 127.0.0.1, in one temporary directory.

Used by the integration tests, the demo and the benchmarks. Every process is started by us,
tracked by PID and stopped by PID (SIGTERM, then SIGKILL after a grace period).

Example::

    with PvcCluster(tmp_path) as c:
        c.start_master()
        for n in ("m1", "m2"):
            c.add_minion(n, grains={"role": "web"})
        c.wait_connected(["m1", "m2"])
        assert c.client().cmd("*", "test.ping") == {"m1": True, "m2": True}
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pvc.client import Client
from tests.cluster.ports import free_port
from tests.cluster.wait import wait_for

PYTHON = sys.executable


def stop_process(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM, wait ``grace`` seconds, then SIGKILL: only our own child, by PID."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@dataclass
class PvcCluster:
    root: Path
    auto_accept: bool = True
    master_options: dict[str, Any] = field(default_factory=dict)
    ret_port: int = field(default_factory=free_port)
    channel_port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    minion_ids: list[str] = field(default_factory=list)
    minion_env: dict[str, dict[str, str]] = field(default_factory=dict)  # e.g. a faked clock per minion

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.master_dir = self.root / "master"
        self.master_dir.mkdir(parents=True, exist_ok=True)
        self._client: Client | None = None

    def __enter__(self) -> PvcCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- processes --------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.root / f"{name}.out", "ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        proc = subprocess.Popen([PYTHON, "-m", "pvc.cli.main", *argv], stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def write_master_config(self) -> None:
        cfg = {"interface": "127.0.0.1", "ret_port": self.ret_port,
               "channel_port": self.channel_port,
               "auto_accept": self.auto_accept, "root_dir": "root", "log_level": "info", "heartbeat": 1.0,
               **self.master_options}
        (self.master_dir / "master").write_text(yaml.safe_dump(cfg))

    def start_master(self, wait: bool = True) -> None:
        self.write_master_config()
        self._spawn("master", ["master", "-c", str(self.master_dir)])
        if wait:
            self.wait_master()

    def wait_master(self, timeout: float = 15.0) -> None:
        sock = self.master_dir / "root" / "run" / "master" / "client.ipc"
        wait_for(lambda: sock.exists(), timeout, f"master socket {sock}")

    def stop_master(self) -> None:
        self.drop_client()
        stop_process(self.procs.pop("master"))

    def kill_master(self) -> None:
        """SIGKILL: the master leaves its socket and PID file behind, as after a crash."""
        self.drop_client()
        proc = self.procs.pop("master")
        proc.kill()
        proc.wait()

    def minion_dir(self, mid: str) -> Path:
        return self.root / "minions" / mid

    def add_minion(self, mid: str, grains: dict[str, Any] | None = None, start: bool = True,
                   swarm: int = 0, **options: Any) -> Path:
        d = self.minion_dir(mid)
        d.mkdir(parents=True, exist_ok=True)
        cfg = {"id": mid, "master": "127.0.0.1", "master_port": self.ret_port, "root_dir": "root",
               "acceptance_wait_time": 0.5, "heartbeat": 1.0, "grains": grains or {}, **options}
        (d / "minion").write_text(yaml.safe_dump(cfg))
        if mid not in self.minion_ids:
            self.minion_ids.append(mid)
        if start:
            self.start_minion(mid, swarm)
        return d

    def start_minion(self, mid: str, swarm: int = 0) -> subprocess.Popen:
        argv = ["minion", "-c", str(self.minion_dir(mid))]
        if swarm:
            argv += ["--swarm", str(swarm)]
        return self._spawn(f"minion-{mid}", argv, self.minion_env.get(mid))

    def stop_minion(self, mid: str) -> None:
        stop_process(self.procs.pop(f"minion-{mid}"))

    def kill_minion(self, mid: str) -> None:
        proc = self.procs.pop(f"minion-{mid}")
        proc.kill()
        proc.wait(5)

    def close(self) -> None:
        self.drop_client()
        for name in [n for n in self.procs if n != "master"] + (["master"] if "master" in self.procs else []):
            stop_process(self.procs.pop(name))

    # -- clients ----------------------------------------------------------------------------
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(str(self.master_dir))
        return self._client

    def drop_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def pvc(self, *args: str, timeout: float = 60.0, input_text: str | None = None) -> subprocess.CompletedProcess:
        """Run the ``pvc`` CLI as a separate process, with ``-c`` pointing at the master put right
        after the command path (``run``, or a group and its subcommand like ``key list``)."""
        argv = list(args)
        if argv and argv[0] in ("run", "job", "event", "key", "status") and "-c" not in argv:
            at = 1 if argv[0] in ("run", "status") or len(argv) == 1 else 2
            argv[at:at] = ["-c", str(self.master_dir)]
        return subprocess.run([PYTHON, "-m", "pvc.cli.main", *argv], capture_output=True, text=True,
                              timeout=timeout, input=input_text)

    def accept(self, *ids: str, timeout: float = 15.0) -> None:
        """Wait until each minion has offered its key, then accept it with ``pvc key accept``."""
        pre = self.master_dir / "root" / "pki" / "master" / "minions_pre"
        for mid in ids:
            wait_for(lambda: (pre / mid).exists(), timeout, f"key of {mid} pending")
            proc = self.pvc("key", "accept", mid, "--yes")
            if proc.returncode != 0:
                raise RuntimeError(f"pvc key accept {mid}: {proc.stderr}")

    def wait_connected(self, ids: list[str] | None = None, timeout: float = 30.0) -> None:
        want = set(ids if ids is not None else self.minion_ids)

        def ready() -> bool:
            _, connected = self.client().expected("*")
            return want <= set(connected)

        wait_for(ready, timeout, f"minions {sorted(want)} connected")

