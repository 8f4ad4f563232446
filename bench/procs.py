"""Processes the benchmark starts: spawn in their own session, measure and stop whole trees.

Every daemon is started with ``start_new_session=True``, so its session id is its PID; the
*tree* of a started process is that PID, its descendants and anything still in its session
(Salt's double-forked workers included). Teardown signals only those PIDs: SIGTERM, a grace
period, then SIGKILL (``salt-minion`` often ignores SIGTERM while its master goes away).

Example::

    proc = spawn(["salt-master", "-c", conf], log_path)
    usage = tree_memory([proc.pid])     # TreeMemory(processes=14, rss_mib=..., pss_mib=...)
    stop_trees([proc])
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

MIB = 1024 * 1024


@dataclass(frozen=True)
class TreeMemory:
    """Memory of one or more process trees; PSS counts pages shared by forks only once."""

    processes: int
    rss_mib: float
    pss_mib: float


def spawn(argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """Start ``argv`` in a new session, stdout and stderr appended to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(env) if env is not None else None, start_new_session=True)


def tree(pids: Iterable[int]) -> list[psutil.Process]:
    """The live processes of the trees rooted at ``pids`` (descendants and session members)."""
    roots = set(pids)
    found: dict[int, psutil.Process] = {}
    for pid in roots:
        try:
            p = psutil.Process(pid)
            found[pid] = p
            found.update((c.pid, c) for c in p.children(recursive=True))
        except psutil.NoSuchProcess:
            continue
    for p in psutil.process_iter():
        try:
            if p.pid not in found and os.getsid(p.pid) in roots:
                found[p.pid] = p
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            continue
    return list(found.values())


def thread_cpu(pids: Iterable[int]) -> dict[str, float]:
    """CPU-seconds so far of the trees' threads, by kind: ``libzmq`` (its I/O and reaper
    threads, named ``ZMQbg/...``) and ``python`` (every other thread); and ``kernel``, the part
    of both spent in the kernel (system calls, page faults: creating files, on a box where that
    is dear). Read from ``/proc/PID/task/*/stat``; threads that end meanwhile are skipped."""
    hz = os.sysconf("SC_CLK_TCK")
    out = {"python": 0.0, "libzmq": 0.0, "kernel": 0.0}
    for p in tree(pids):
        try:
            tasks = os.listdir(f"/proc/{p.pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{p.pid}/task/{tid}/stat") as fh:
                    stat = fh.read()
            except OSError:
                continue
            name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
            user, system = int(fields[11]) / hz, int(fields[12]) / hz
            out["libzmq" if name.startswith("ZMQbg/") else "python"] += user + system
            out["kernel"] += system
    return out


def tree_memory(pids: Iterable[int]) -> TreeMemory:
    """Sum RSS and PSS over the trees (processes that vanish meanwhile are skipped)."""
    rss = pss = 0
    count = 0
    for p in tree(pids):
        try:
            info = p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
        count += 1
    return TreeMemory(count, round(rss / MIB, 1), round(pss / MIB, 1))


def stop_trees(procs: Sequence[subprocess.Popen], grace: float = 10.0) -> None:
    """SIGTERM every process of the trees, wait up to ``grace`` s, SIGKILL what is left, reap."""
    roots = [p.pid for p in procs]  # dead roots too: their orphans keep the session id
    members = tree(roots)
    for p in members:
        _signal(p, signal.SIGTERM)
    _, alive = psutil.wait_procs(members, timeout=grace)
    # Children forked meanwhile (a job still running) belong to the same trees.
    leftovers = {p.pid: p for p in alive}
    leftovers.update((p.pid, p) for p in tree(roots))
    for p in leftovers.values():
        _signal(p, signal.SIGKILL)
    psutil.wait_procs(list(leftovers.values()), timeout=5)
    for proc in procs:
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILLed above; reaping is all that is left
            pass


def _signal(p: psutil.Process, sig: int) -> None:
    try:
        p.send_signal(sig)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass


def timed_runs(argv: Sequence[str], repeat: int, timeout: float) -> tuple[list[float], list[subprocess.CompletedProcess]]:
    """Run a whole command ``repeat`` times; wall-clock milliseconds and the completed runs."""
    times: list[float] = []
    runs: list[subprocess.CompletedProcess] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        try:
            run = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
            run = subprocess.CompletedProcess(argv, -1, out, f"timed out after {timeout:g}s")
        times.append((time.perf_counter() - t0) * 1000)
        runs.append(run)
    return times, runs
