"""Real SaltStack as a system under test: ``salt-master`` and N ``salt-minion`` processes.

Salt lives in its own venv (``$SALT_VENV``, default ``/var/cache/pvc-bench/salt-venv``), made by
``scripts/setup.d/90-salt.sh`` at ``make setup``, or here on first use if it is missing. All
config, pki, cache, socket and log dirs are under the system's temporary directory; Salt's
defaults are kept (timeout 5 s, worker_threads 5, RSA-2048 keys, signed publications) except
what running as root on loopback with free ports needs, and ``auto_accept``.

Example::

    with SaltSystem(Path(tmp)) as s:
        s.start_master()
        s.start_minions(["m01"])
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from bench.driver import REPO
from bench.procs import spawn
from bench.system import MASTER, System, minion_proc
from tests.cluster.ports import free_port

SALT_VENV = Path(os.environ.get("SALT_VENV", "/var/cache/pvc-bench/salt-venv"))
SETUP_SCRIPT = REPO / "scripts" / "setup.d" / "90-salt.sh"
MASTER_READY_S = 90.0
# Salt puts unix sockets (e.g. run/minion/minion_event_<hash>_pub.ipc) under the work dir;
# a socket path may not exceed 107 bytes.
MAX_WORKDIR_CHARS = 60


def ensure_salt() -> Path:
    """The Salt venv's bin dir, installing Salt first (~70 s) if the venv is missing."""
    if not (SALT_VENV / "bin" / "salt-master").exists():
        subprocess.run(["bash", str(SETUP_SCRIPT)], check=True, env={**os.environ, "SALT_VENV": str(SALT_VENV)},
                       timeout=900)
    return SALT_VENV / "bin"


class SaltSystem(System):
    name = "salt"
    label = "Salt"

    def __init__(self, workdir: Path) -> None:
        if len(str(workdir)) > MAX_WORKDIR_CHARS:
            raise ValueError(f"{workdir}: too long for Salt's unix socket paths (max {MAX_WORKDIR_CHARS} "
                             "characters): set TMPDIR to a shorter directory")
        super().__init__(workdir)
        self.bin = ensure_salt()
        self.publish_port = free_port()
        self.ret_port = free_port()
        self.conf_dir = self.workdir / "conf"

    def _dirs(self, root: Path, role: str) -> dict[str, Any]:
        return {"root_dir": str(root), "pki_dir": str(root / "pki" / role), "cachedir": str(root / "cache" / role),
                "sock_dir": str(root / "run" / role), "log_file": str(root / "log" / role),
                "pidfile": str(root / "run" / f"{role}.pid"), "user": "root", "log_level": "warning"}

    def start_master(self) -> None:
        root = self.workdir / "master"
        cfg = {**self._dirs(root, "master"), "interface": "127.0.0.1", "publish_port": self.publish_port,
               "ret_port": self.ret_port, "auto_accept": True,
               "file_roots": {"base": [str(root / "srv" / "salt")]},
               "pillar_roots": {"base": [str(root / "srv" / "pillar")]}}
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "master").write_text(yaml.safe_dump(cfg))
        self.procs[MASTER] = spawn([str(self.bin / "salt-master"), "-c", str(self.conf_dir)],
                                   self.workdir / "master.out")
        self.driver.call("ready", timeout=MASTER_READY_S, budget=MASTER_READY_S + 30)

    def start_minions(self, ids: list[str]) -> None:
        for mid in ids:
            d = self.workdir / "minions" / mid
            d.mkdir(parents=True, exist_ok=True)
            cfg = {**self._dirs(d, "minion"), "id": mid, "master": "127.0.0.1", "master_port": self.ret_port,
                   "publish_port": self.publish_port}
            (d / "minion").write_text(yaml.safe_dump(cfg))
        for mid in ids:
            d = self.workdir / "minions" / mid
            self.procs[minion_proc(mid)] = spawn([str(self.bin / "salt-minion"), "-c", str(d)], d / "minion.out")

    def driver_argv(self) -> list[str]:
        return [str(self.bin / "python"), "-m", "bench.drivers.salt_driver", str(self.conf_dir / "master")]

    def cli_ping_argv(self) -> list[str]:
        return [str(self.bin / "salt"), "-c", str(self.conf_dir), "--out", "json", "--static", "*", "test.ping"]

    def version_argv(self) -> list[str]:
        return [str(self.bin / "salt"), "--version"]
