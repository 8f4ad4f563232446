"""Talk to one FRR instance: check a config, diff/apply it with frr-reload.py, read JSON state.

One :class:`Vtysh` addresses one instance: its vty socket directory (several instances, e.g.
one per network namespace, each have their own) or its pathspace (``-N``), plus where its
frr.conf lives. Validation is ``vtysh --dryrun`` (vtysh's own parser, no daemon touched);
applying is ``frr-reload.py``, which diffs the file against the running config and sends only
the difference, so sessions stay up.

Example::

    sh = Vtysh(FrrPaths(vty_socket="/run/frr/node1"))
    sh.json("show bgp summary json")["l2VpnEvpn"]["peers"]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from pvc.errors import (
    BackendUnavailable,
    CommandNotFound,
    ExecutionError,
    InvalidArgument,
)
from pvc.process import ProcessResult, run_process


class FrrConfigInvalid(InvalidArgument):
    """vtysh refused the rendered config (the message quotes its complaint)."""


@dataclass(frozen=True)
class FrrPaths:
    """Where one FRR instance lives; empty strings mean FRR's compiled-in defaults."""

    config_dir: str = "/etc/frr"
    run_dir: str = "/var/run/frr"
    vtysh: str = "/usr/bin/vtysh"
    reload_script: str = "/usr/lib/frr/frr-reload.py"
    vty_socket: str = ""
    pathspace: str = ""
    timeout: float = 30.0


@dataclass(frozen=True)
class Diff:
    """What frr-reload would change: running-config lines to delete and to add."""

    delete: tuple[str, ...]
    add: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.delete or self.add)

    @classmethod
    def parse(cls, text: str) -> Diff:
        """Parse ``frr-reload.py --test`` output (two sections, each under an ``===`` rule)."""
        sections: dict[str, list[str]] = {"delete": [], "add": []}
        current: list[str] | None = None
        for line in text.splitlines():
            if line.startswith("Lines To Delete"):
                current = sections["delete"]
            elif line.startswith("Lines To Add"):
                current = sections["add"]
            elif current is not None and line.strip() and not set(line.strip()) <= {"="}:
                current.append(line.rstrip())
        return cls(tuple(sections["delete"]), tuple(sections["add"]))


class Vtysh:
    def __init__(self, paths: FrrPaths) -> None:
        self.paths = paths

    def _target(self) -> list[str]:
        p = self.paths
        return (["--vty_socket", p.vty_socket] if p.vty_socket else []) + (["-N", p.pathspace] if p.pathspace else [])

    def _run(self, argv: list[str]) -> ProcessResult:
        try:
            return run_process(argv, label="frr", timeout=self.paths.timeout)
        except CommandNotFound as exc:
            raise BackendUnavailable(f"{exc} (is FRR installed? apt install frr frr-pythontools)") from None

    def _unreachable(self, res: ProcessResult) -> None:
        text = f"{res.stdout}\n{res.stderr}"
        if "failed to connect" in text or "Exiting:" in text:
            where = self.paths.vty_socket or self.paths.pathspace or "the default socket directory"
            raise BackendUnavailable(f"frr: cannot reach the FRR daemons through vtysh ({where}): "
                                     f"{res.stderr.strip() or res.stdout.strip()}")

    def json(self, command: str) -> Any:
        """Run ``command`` (a ``show ... json``) and return the parsed answer."""
        res = self._run([self.paths.vtysh, *self._target(), "-c", command])
        self._unreachable(res)
        try:
            return json.loads(res.stdout or "{}")
        except json.JSONDecodeError:
            raise ExecutionError(f"frr: `{command}` did not answer JSON: {(res.stdout or res.stderr).strip()[:500]}") from None

    def text(self, command: str) -> str:
        res = self._run([self.paths.vtysh, *self._target(), "-c", command])
        self._unreachable(res)
        return res.stdout

    def validate(self, path: str) -> None:
        """Raise :class:`FrrConfigInvalid` unless vtysh accepts the config file at ``path``."""
        res = self._run([self.paths.vtysh, *self._target(), "--dryrun", "-f", path])
        if res.retcode != 0:
            raise FrrConfigInvalid(f"frr: the config is not valid: {(res.stdout + res.stderr).strip()}")

    def _reload(self, mode: str, path: str) -> ProcessResult:
        p = self.paths
        argv = [p.reload_script, mode, "--stdout", "--bindir", os.path.dirname(p.vtysh),
                "--confdir", p.config_dir, "--rundir", p.run_dir, *self._target(), path]
        res = self._run(argv)
        self._unreachable(res)
        if res.retcode != 0:
            raise ExecutionError(f"frr: frr-reload.py {mode} failed (exit {res.retcode}): "
                                 f"{(res.stderr or res.stdout).strip()[-1500:]}")
        return res

    def diff(self, path: str) -> Diff:
        """What applying the file at ``path`` would change in the running config."""
        return Diff.parse(self._reload("--test", path).stdout)

    def reload(self, path: str) -> None:
        """Apply the file at ``path``: only its difference to the running config is sent."""
        self._reload("--reload", path)
