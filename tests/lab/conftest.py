"""One real lab for the module that asks for it: ``pvc lab up`` as a separate process (the way an
operator or a script runs it), ``pvc lab down`` at the end if a test did not already.

Skips only when this kernel (or our privileges) cannot make the lab's namespaces, bridge and
veths: probed by making them in a throwaway network namespace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def missing_lab_support() -> str | None:
    """Why a lab cannot run here (for pytest.skip), or None."""
    if os.geteuid() != 0:
        return "pvc lab needs root (namespaces, bridge, privileged libvirtd)"
    probe = subprocess.run(
        ["unshare", "--net", "--pid", "--mount", "--uts", "--fork", "--mount-proc", "sh", "-c",
         "ip link add b0 type bridge && ip link add v0 type veth peer name v1 && ip link set v0 master b0"],
        check=False, capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"kernel: no net/pid/mount/uts namespaces, bridge or veth here: {probe.stderr.strip()}"
    return None


def pvc(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pvc.cli.main", *args], check=False, capture_output=True,
                          text=True, timeout=timeout)


@dataclass
class RunningLab:
    dir: Path
    up: subprocess.CompletedProcess[str]
    up_seconds: float

    def json(self) -> dict[str, Any]:
        return json.loads((self.dir / "lab.json").read_text())

    def node(self, name: str) -> dict[str, Any]:
        return next(n for n in self.json()["nodes"] if n["name"] == name)

    @property
    def master_dir(self) -> str:
        return str(self.json()["masters"][0]["config_dir"])


@contextmanager
def running_lab(tmp_path_factory: pytest.TempPathFactory, name: str, nodes: int, vms: int,
                ceph: bool = False, masters: int = 1, zk: int = 1) -> Iterator[RunningLab]:
    """``pvc lab up`` (``--ceph`` with ``ceph``, ``--masters``, ``--zk``: 1 or a 3-server
    ensemble) as a separate process (skipped, with the probed reason, where the kernel cannot
    make the namespaces), and ``pvc lab down`` at the end whatever happened."""
    reason = missing_lab_support()
    if reason:
        pytest.skip(reason)
    lab_dir = tmp_path_factory.mktemp(name) / "lab"
    t0 = time.monotonic()
    proc = pvc("lab", "up", "--dir", str(lab_dir), "--nodes", str(nodes), "--vms", str(vms),
               "--masters", str(masters), "--zk", str(zk), *(["--ceph"] if ceph else []))
    seconds = time.monotonic() - t0
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        yield RunningLab(lab_dir, proc, seconds)
    finally:
        if (lab_dir / "lab.json").exists():
            pvc("lab", "down", "--dir", str(lab_dir))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    with running_lab(tmp_path_factory, "lab", nodes=3, vms=2, ceph=True) as running:  # down covers Ceph too
        yield running
