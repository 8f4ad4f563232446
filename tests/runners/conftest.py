"""A real 3-node lab with a cluster tree of its own and two coordinators on its master.

``pvc lab up`` does not yet write ``cluster:`` into the minion and master configs, so the nodes
are registered by :class:`~tests.runners.fakenodes.FakeNodes` keepalives (fixed resources) and
the coordinators are started by hand with ``--zk`` (the way ``pvc master`` starts one when its
config has ``cluster:``). Everything started here is stopped by PID.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pvc.cluster.records import NodeResources
from tests.lab.conftest import missing_lab_support, pvc
from tests.runners.fakenodes import FakeNodes

ROOT = "/pvc-rt"
NODES = ("hv1", "hv2", "hv3")
# hv2 has the most free memory, hv3 the fewest allocated vCPUs: the selectors can be told apart
RESOURCES = {"hv1": NodeResources(memory_total=4096, memory_used=512, vcpus_allocated=4),
             "hv2": NodeResources(memory_total=4096, memory_used=256, vcpus_allocated=4),
             "hv3": NodeResources(memory_total=4096, memory_used=1024, vcpus_allocated=0)}


@dataclass
class ClusterLab:
    dir: Path
    zk: str
    master_dir: str
    fake: FakeNodes
    coordinators: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def pvc(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env_args = ("-c", self.master_dir)
        return pvc(*env_args, *args, "--zk", self.zk, "--zk-root", ROOT, timeout=timeout) \
            if args[0] not in ("run",) else pvc(*env_args, *args, timeout=timeout)

    def start_coordinator(self, name: str) -> subprocess.Popen[bytes]:
        log = open(self.dir / f"coordinator-{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen([sys.executable, "-m", "pvc.runners.coordinator", "-c", self.master_dir,
                                 "--zk", self.zk, "--root", ROOT, "--id", name], stdout=log, stderr=log)
        self.coordinators[name] = proc
        return proc

    def stop_coordinators(self) -> None:
        for proc in self.coordinators.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.coordinators.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def wait_primary(self, timeout: float = 10.0, not_id: str | None = None) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            primary = self.fake.store.primary()
            if primary is not None and primary.id != not_id and primary.id in self._contenders():
                return primary.id
            time.sleep(0.05)
        raise AssertionError(f"no primary (other than {not_id}) within {timeout} s")

    def _contenders(self) -> list[str]:
        zk = self.fake.store.client.zk
        return list(zk.Lock(self.fake.store.schema.path("election")).contenders())[:1]

    def json(self, *args: str) -> Any:
        import json

        proc = self.pvc(*args, "--out", "json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def cluster_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterLab]:
    reason = missing_lab_support()
    if reason:
        pytest.skip(reason)
    lab_dir = tmp_path_factory.mktemp("rlab") / "lab"
    up = pvc("lab", "up", "--dir", str(lab_dir), "--nodes", "3", "--vms", "0")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        import json

        lab = json.loads((lab_dir / "lab.json").read_text())
        zk, master_dir = lab["zookeeper"]["hosts"], lab["masters"][0]["config_dir"]
        init = pvc("cluster", "init", "--zk", zk, "--zk-root", ROOT, "--overwrite")
        assert init.returncode == 0, init.stderr
        fake = FakeNodes(zk, ROOT, NODES, RESOURCES)
        cl = ClusterLab(lab_dir, zk, master_dir, fake)
        try:
            cl.start_coordinator("c1")
            cl.wait_primary()
            cl.start_coordinator("c2")
            yield cl
        finally:
            cl.stop_coordinators()
            fake.close()
    finally:
        if (lab_dir / "lab.json").exists():
            pvc("lab", "down", "--dir", str(lab_dir))


def guest_xml(lab_dir: Path, name: str) -> Path:
    """A lab guest (ticking TCG VM) as a domain XML file."""
    from pvc.lab import guests
    from pvc.virt.domain import domain_xml, parse_spec

    path = lab_dir / f"{name}.xml"
    path.write_text(domain_xml(parse_spec(guests.spec(name)), str(lab_dir / "console")))
    return path


def ticks(lab_dir: Path, name: str) -> tuple[int, list[int]]:
    """(boots, tick numbers) from the guest's serial log."""
    text = (lab_dir / "console" / f"{name}.log").read_text(errors="replace")
    lines = text.splitlines()
    numbers = [int(line.split()[1]) for line in lines if line.startswith("tick ") and line.split()[1:2]
               and line.split()[1].isdigit()]
    return sum(1 for line in lines if line.startswith("GUEST-UP")), numbers


def pid_alive(pid: int) -> bool:
    """Running (a zombie waiting for its new parent to reap it is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
