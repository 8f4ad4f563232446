"""The lab's masters: real ``pvc master`` processes on the bridge address, one config dir each.

Each master listens on the bridge address (the nodes' minions reach it from their namespaces)
with its own ports, and keeps its keys, job cache and sockets under ``DIR/masters/<name>/root``;
the host drives it like any master: ``pvc -c DIR/masters/m1 run '*' test.ping``. Minion keys are
accepted on first contact (``auto_accept``): every minion of the lab is one we started.

Example::

    m = configure(Path("/tmp/lab"), "m1", 0, "10.213.7.1")
    m = start(m); wait_ready(m)
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from pvc.lab import procs
from pvc.lab.errors import StartFailed
from pvc.lab.state import Master

RET_PORT = 4506
PORT_STRIDE = 10  # master i uses 4506+10i (enrolment) and 4507+10i (channel)


def configure(lab_dir: Path, name: str, index: int, address: str, port: Callable[[int], int] = int,
              cluster: dict[str, Any] | None = None) -> Master:
    """Write master ``name``'s config; ``port`` maps each usual port to the one to use;
    ``cluster`` is its ``cluster:`` section (ZooKeeper: the master then runs a coordinator)."""
    d = Path(lab_dir) / "masters" / name
    d.mkdir(parents=True, exist_ok=True)
    base = RET_PORT + PORT_STRIDE * index
    master = Master(name=name, config_dir=str(d), pid=0, address=address, ret_port=port(base),
                    channel_port=port(base + 1))
    cfg: dict[str, Any] = {"interface": address, "ret_port": master.ret_port, "channel_port": master.channel_port, "auto_accept": True, "root_dir": "root",
                           "log_level": "info", "heartbeat": 1.0}
    if cluster:
        cfg["cluster"] = cluster
    (d / "master").write_text(yaml.safe_dump(cfg))
    return master


def link_fallbacks(masters: list[Master]) -> None:
    """Name every other master in each one's ``fallback_masters``, so ``pvc -c DIR/masters/m1``
    keeps working through m2 while m1 is down (the CLI says which one it used)."""
    for master in masters:
        path = Path(master.config_dir) / "master"
        cfg = yaml.safe_load(path.read_text())
        cfg["fallback_masters"] = [f"../{other.name}" for other in masters if other is not master]
        path.write_text(yaml.safe_dump(cfg))


def share_identity(masters: list[Master]) -> None:
    """Masters of one cluster share one key pair (minions pin one master key): the first
    master's, made now, copied to the others before they start."""
    from pvc.keys import load_or_create_identity

    first = Path(masters[0].config_dir) / "root" / "pki" / "master"
    load_or_create_identity(str(first), "master")
    for other in masters[1:]:
        pki = Path(other.config_dir) / "root" / "pki" / "master"
        pki.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in ("master.pem", "master.pub"):
            shutil.copy2(first / name, pki / name)


def socket_path(master: Master) -> Path:
    return Path(master.config_dir) / "root" / "run" / "master" / "client.ipc"


def start(master: Master) -> Master:
    d = Path(master.config_dir)
    socket_path(master).unlink(missing_ok=True)  # a previous life's socket is no sign of readiness
    pid = procs.spawn([sys.executable, "-m", "pvc.cli.main", "master", "-c", str(d)], log=d / "master.out",
                      env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return dataclasses.replace(master, pid=pid)


def marker(master: Master) -> str:
    return master.config_dir


def is_running(master: Master) -> bool:
    return procs.alive(master.pid, marker(master))


def wait_ready(master: Master, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not socket_path(master).exists():
        if not is_running(master) or time.monotonic() >= deadline:
            log = (Path(master.config_dir) / "master.out").read_text(errors="replace")[-800:]
            raise StartFailed(f"master {master.name} not ready: {log}")
        time.sleep(0.02)


def stop(master: Master) -> bool:
    return procs.stop(master.pid, marker(master), grace=5.0)
