"""What the harness needs from a system under test, and the parts both systems share.

A :class:`System` lives in one temporary directory: it starts a master, then minions (each its
own process tree, tracked by name), owns one measurement :class:`~bench.driver.Driver`, and
stops everything it started, by PID, on :meth:`stop` (also on error: use it as a context
manager).

Example::

    with SaltSystem(workdir) as s:
        s.start_master()
        s.start_minions(["m01", "m02"])
        s.driver.call("answering", ids=["m01", "m02"], timeout=120.0, every=0.2)
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Self

from bench.driver import Driver
from bench.procs import TreeMemory, stop_trees, tree_memory

MASTER = "master"


def minion_proc(mid: str) -> str:
    return f"minion-{mid}"


class System:
    name = ""
    label = ""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}
        self._driver: Driver | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- to implement ---------------------------------------------------------------------
    def start_master(self) -> None:
        raise NotImplementedError

    def start_minions(self, ids: list[str]) -> None:
        """Start one minion process per id (keys are made on their first start)."""
        raise NotImplementedError

    def driver_argv(self) -> list[str]:
        raise NotImplementedError

    def cli_ping_argv(self) -> list[str]:
        """The whole-process CLI equivalent of ``test.ping`` to every minion, JSON output."""
        raise NotImplementedError

    def version_argv(self) -> list[str]:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------
    @property
    def driver(self) -> Driver:
        if self._driver is None:
            self._driver = Driver(self.driver_argv(), self.workdir / "driver.log")
        return self._driver

    def memory(self, name: str) -> TreeMemory:
        return tree_memory([self.procs[name].pid])

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise RuntimeError(f"{self.label}: process exited early: {dead} (logs in {self.workdir})")

    def stop(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None
        stop_trees(list(self.procs.values()))
        self.procs.clear()
