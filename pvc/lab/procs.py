"""Processes of the lab, by PID only: start detached, tell alive from dead, stop, find a node's.

Why not ``kill -0``: lab daemons outlive the command that started them, so their parent becomes
the machine's PID 1, which may reap them only every second or so; a dead one stays a zombie
meanwhile and ``kill -0`` still succeeds. :func:`alive` reads ``/proc/PID/stat`` instead, and
checks the command line against a marker so that a recycled PID is never taken for (or signalled
as) ours. Nothing here signals a process by name.

Example::

    pid = spawn(["ipmi_sim", "-n", ...], log=Path("sim.log"))
    assert alive(pid, "ipmi_sim")
    stop(pid, "ipmi_sim", grace=1.0)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from pvc.process import describe_exit

# Children this process spawned (kept to tell how one ended) and the last ends seen, by PID.
_SPAWNED: dict[int, subprocess.Popen[bytes]] = {}
_ENDED: dict[int, int] = {}
ENDED_KEPT = 64


def spawn(argv: list[str], log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> int:
    """Start ``argv`` in its own session (a terminal's Ctrl-C or the caller's exit does not stop
    it), output appended to ``log``; returns its PID."""
    _reap_spawned()
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True)
    _SPAWNED[proc.pid] = proc
    _ENDED.pop(proc.pid, None)
    return proc.pid


def _reap_spawned() -> None:
    """Reap the children that ended (no zombie lingers), keeping the last few exit statuses."""
    for pid, proc in list(_SPAWNED.items()):
        if proc.poll() is not None:
            del _SPAWNED[pid]
            _ENDED[pid] = proc.returncode
    for pid in list(_ENDED)[:-ENDED_KEPT]:
        del _ENDED[pid]


def how_it_ended(pid: int, wait: float = 1.0) -> str:
    """How a child spawned by this process ended ("killed by SIGKILL", "exit code 1"), or "" if
    it still runs after ``wait`` s, was not ours, or ended too long ago: what a log that stops
    short cannot say. (A killed process reads as a zombie before waitpid() can collect it: its
    other threads are still going.)"""
    proc = _SPAWNED.get(pid)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait)
    _reap_spawned()
    code = _ENDED.get(pid)
    return "" if code is None else describe_exit(code)


def exited(pid: int) -> str:
    """``(pid N) exited``, with how (:func:`how_it_ended`) when this process knows it: the
    words of a daemon-died error."""
    ended = how_it_ended(pid)
    return f"(pid {pid}) exited{f' ({ended})' if ended else ''}"


def stat_state(pid: int) -> str | None:
    """The process state letter (``R``, ``S``, ``Z``...), or None when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return raw[raw.rfind(b")") + 2:][:1].decode() or None


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def alive(pid: int, marker: str = "") -> bool:
    """``pid`` runs (not a zombie) and, with ``marker``, its command line contains it."""
    if pid <= 0 or stat_state(pid) in (None, "Z", "X"):
        return False
    return not marker or marker in cmdline(pid)


def signal_pid(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def wait_dead(pids: Iterable[int], timeout: float, every: float = 0.005) -> bool:
    """Wait until none of ``pids`` runs; True if they all died within ``timeout``."""
    pending = [p for p in pids if p > 0]
    deadline = time.monotonic() + timeout
    while True:
        pending = [p for p in pending if alive(p)]
        if not pending:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)


def stop(pid: int, marker: str, grace: float = 3.0) -> bool:
    """SIGTERM ``pid`` if it is still ours, SIGKILL after ``grace``; True if it is gone."""
    if not alive(pid, marker):
        return True
    signal_pid(pid, signal.SIGTERM)
    if wait_dead([pid], grace):
        return True
    signal_pid(pid, signal.SIGKILL)
    return wait_dead([pid], 5.0)


def pid_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def all_pids() -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def in_pid_namespace(init_pid: int) -> list[int]:
    """Host PIDs of every live process in the PID namespace whose init is ``init_pid``."""
    ns = pid_namespace(init_pid)
    if ns is None:
        return []
    return [p for p in all_pids() if pid_namespace(p) == ns and alive(p)]


def find_in(pids: Iterable[int], marker: str) -> int:
    """The first of ``pids`` whose command line contains ``marker`` (0 if none)."""
    return next((p for p in pids if marker in cmdline(p)), 0)


def only_child(pid: int) -> int:
    """The first child of ``pid`` (0 if it has none yet)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0
    return int(children[0]) if children else 0


def tail(log: Path, chars: int = 600) -> str:
    """The end of a process's log, for an error message (says so when it is empty or missing)."""
    try:
        return log.read_text(errors="replace")[-chars:].strip() or f"({log.name} is empty)"
    except OSError:
        return f"(no {log.name})"
