"""The measurements of one system at one size, in the order the issue lists them.

Each metric is measured on its own; one that fails (a missing function, a timeout) is recorded
as ``{"error": ...}`` and the others still run. The system is always torn down afterwards.

Example::

    with PvcSystem(tmp) as s:
        metrics = measure(s, n=10, opts=Options(repeat=20))
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.driver import DriverError
from bench.procs import timed_runs
from bench.pvc import PvcSystem, swarm_ids
from bench.stats import summarize
from bench.system import MASTER, System, minion_proc

ECHO_BYTES = 1024 * 1024
SETTLE_S = 1.0  # after the pings, before reading idle memory


@dataclass(frozen=True)
class Options:
    repeat: int = 20
    seconds: float = 10.0  # window of each jobs/s measurement
    start_timeout: float = 300.0
    every: float = 0.2  # how often the start-up measurement pings the minions still silent
    cli_timeout: float = 120.0
    scale_minions: int = 1000
    scale_processes: int = 4
    scale_repeat: int = 5


def minion_ids(n: int) -> list[str]:
    width = max(2, len(str(n)))
    return [f"m{i:0{width}d}" for i in range(1, n + 1)]


def _guard(metrics: dict[str, Any], name: str, fn: Callable[[], Any]) -> None:
    try:
        metrics[name] = fn()
    except (DriverError, RuntimeError, OSError, ValueError) as exc:
        metrics[name] = {"error": str(exc)}


def _api(system: System, tgt: str, fun: str, args: list[Any], expect: Any, repeat: int, n: int,
         op: str = "call") -> dict[str, Any]:
    r = system.driver.call(op, tgt=tgt, fun=fun, args=args, expect=expect, repeat=repeat,
                           budget=60.0 + repeat * 30.0)
    return {**summarize(r["ms"]), "complete_runs": sum(1 for m in r["matched"] if m == n),
            "returned": r["returned"], "sample": r["sample"]}


def cli_ping(system: System, repeat: int, n: int, timeout: float) -> dict[str, Any]:
    times, runs = timed_runs(system.cli_ping_argv(), repeat, timeout)
    complete = 0
    for run in runs:
        try:
            out = json.loads(run.stdout) if run.returncode == 0 else {}
        except json.JSONDecodeError:
            out = {}
        complete += sum(1 for v in out.values() if v is True) == n
    errors = sorted({r.stderr.strip()[-200:] for r in runs if r.returncode != 0})
    return {**summarize(times), "complete_runs": complete, **({"errors": errors} if errors else {})}


def startup(system: System, ids: list[str], opts: Options, start: Callable[[], None]) -> dict[str, Any]:
    """Seconds from starting the minion processes to every id having answered a test.ping."""
    t0 = time.perf_counter()
    start()
    r = system.driver.call("answering", ids=ids, timeout=opts.start_timeout, every=opts.every,
                           budget=opts.start_timeout + 60)
    seconds = time.perf_counter() - t0
    system.check_alive()
    return {"seconds": seconds, "answered": r["answered"], "of": len(ids), "runs": 1,
            "complete_runs": int(r["answered"] == len(ids))}


def measure(system: System, n: int, opts: Options) -> dict[str, Any]:
    ids = minion_ids(n)
    metrics: dict[str, Any] = {}
    system.start_master()
    metrics["startup"] = startup(system, ids, opts, lambda: system.start_minions(ids))
    R = opts.repeat
    _guard(metrics, "ping_api", lambda: _api(system, "*", "test.ping", [], True, R, n))
    _guard(metrics, "ping_cli", lambda: cli_ping(system, R, n, opts.cli_timeout))
    time.sleep(SETTLE_S)
    _guard(metrics, "master_memory", lambda: vars(system.memory(MASTER)))
    _guard(metrics, "minion_memory", lambda: vars(system.memory(minion_proc(ids[0]))))
    payload = "x" * ECHO_BYTES
    _guard(metrics, "echo_1mib", lambda: _api(system, ids[0], "test.echo", [payload], payload, min(R, 5), 1))
    _guard(metrics, "echo_1mib_bus", lambda: _api(system, ids[0], "test.echo", [payload], payload, min(R, 5), 1,
                                                  op="call_bus"))
    _guard(metrics, "cmd_run_true", lambda: _api(system, "*", "cmd.run", ["true"], "", R, n))
    _guard(metrics, "jobs_sequential", lambda: system.driver.call(
        "jobs_sequential", mid=ids[0], seconds=opts.seconds, budget=opts.seconds + 120))
    _guard(metrics, "jobs_pipelined", lambda: system.driver.call(
        "jobs_pipelined", mid=ids[0], seconds=opts.seconds, timeout=60.0, budget=opts.seconds + 180))
    system.check_alive()
    return metrics


def measure_scale(system: PvcSystem, opts: Options) -> dict[str, Any]:
    """pvc only: ``scale_minions`` identities in ``scale_processes`` swarm processes."""
    per = opts.scale_minions // opts.scale_processes
    bases = [f"s{k}" for k in range(opts.scale_processes)]
    ids = [mid for base in bases for mid in swarm_ids(base, per)]
    metrics: dict[str, Any] = {"minions": len(ids), "processes": len(bases)}
    system.start_master()
    metrics["startup"] = startup(system, ids, opts, lambda: system.start_swarm(bases, per))
    _guard(metrics, "ping_api", lambda: _api(system, "*", "test.ping", [], True, opts.scale_repeat, len(ids)))
    time.sleep(SETTLE_S)
    _guard(metrics, "master_memory", lambda: vars(system.memory(MASTER)))
    _guard(metrics, "swarm_memory", lambda: vars(system.memory(minion_proc(bases[0]))))
    system.check_alive()
    return metrics


def version_cli(system: System, repeat: int) -> dict[str, Any]:
    """Wall time of ``<cli> --version`` as a whole process (no daemon needed)."""
    times, runs = timed_runs(system.version_argv(), repeat, 60.0)
    return {**summarize(times), "output": runs[-1].stdout.strip() if runs else ""}
