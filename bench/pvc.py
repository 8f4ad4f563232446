"""pvc as a system under test, on the test-cluster library (``tests/cluster/pvc.py``).

The master and every minion are real ``pvc master`` / ``pvc minion`` processes started by
:class:`~tests.cluster.pvc.PvcCluster`; the scale mode starts ``pvc minion --swarm K`` processes,
which run K minion identities each through the same minion code (transport, crypto, targeting,
module call). Logging is at ``warning``, as Salt's default.

Example::

    with PvcSystem(Path(tmp)) as s:
        s.start_master()
        s.start_swarm(["s0", "s1"], 500)      # ids s0-0000 ... s1-0499
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bench.system import System
from tests.cluster.pvc import PvcCluster

LOG_LEVEL = "warning"
MASTER_READY_S = 30.0


def swarm_ids(base: str, count: int) -> list[str]:
    """The ids a ``pvc minion --swarm count`` process with id ``base`` runs."""
    return [f"{base}-{n:04d}" for n in range(count)]


class PvcSystem(System):
    name = "pvc"
    label = "pvc"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.cluster = PvcCluster(self.workdir, master_options={"log_level": LOG_LEVEL})
        self.procs = self.cluster.procs  # one table of started processes, named as ours
        bindir = Path(sys.executable).parent
        self.pvc = [str(bindir / "pvc")] if (bindir / "pvc").exists() else [sys.executable, "-m", "pvc.cli.main"]

    def start_master(self) -> None:
        self.cluster.start_master(wait=True)
        self.driver.call("ready", timeout=MASTER_READY_S, budget=MASTER_READY_S + 30)

    def start_minions(self, ids: list[str]) -> None:
        for mid in ids:
            self.cluster.add_minion(mid, start=False, log_level=LOG_LEVEL)
        for mid in ids:
            self.cluster.start_minion(mid)

    def start_swarm(self, bases: list[str], per_process: int, files_dir: Path | None = None) -> None:
        """Each identity connects from its own loopback address (127.<20+k>.0.1 + n for process
        k), as the hosts of a real fleet do: from one address, the master's per-address limits on
        its enrolment port (there against a stranger's flood) would pace the whole swarm.

        ``files_dir``: where each process keeps its identities' keys, pins and spools (its
        ``root_dir``; default: beside its config, on the master's filesystem)."""
        for k, base in enumerate(bases):
            options: dict[str, Any] = {"log_level": LOG_LEVEL, "source_address": f"127.{20 + k}.0.1"}
            if files_dir is not None:
                options["root_dir"] = str(files_dir / base)
            self.cluster.add_minion(base, start=False, **options)
        for base in bases:
            self.cluster.start_minion(base, swarm=per_process)

    def driver_argv(self) -> list[str]:
        return [sys.executable, "-m", "bench.drivers.pvc_driver", str(self.cluster.master_dir)]

    def cli_ping_argv(self) -> list[str]:
        return [*self.pvc, "run", "-c", str(self.cluster.master_dir), "*", "test.ping", "--out", "json"]

    def version_argv(self) -> list[str]:
        return [*self.pvc, "--version"]

    def stop(self) -> None:
        super().stop()
        self.cluster.close()

