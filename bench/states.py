"""``python -m bench states``: a highstate of N simple states, pvc through its master vs ``pvc call``
and vs real Salt (issue 11).

One state tree (``top.sls`` -> ``bench.sls`` with ``--states`` ``file.managed`` states, each a
small file with fixed contents) is written for each system; each system runs on 127.0.0.1 with
one minion, in its own temporary directory, torn down by PID before the next starts. Measured,
``--repeat`` times each after one cold run (which creates the files; later runs change nothing,
the steady state of a config-management fleet):

- **pvc master CLI**: ``pvc state highstate m01 --out json`` (a whole process: the master serves
  the tree over the sealed channel, the minion's hash cache answers "same");
- **pvc call CLI**: ``pvc call state.highstate --out json`` on the same minion config with local
  ``file_roots`` (the issue's target: through the master <= 1.5x this);
- **pvc master API**: the same job from :class:`pvc.client.Client` (no process start);
- **pvc in-process**: ``state.highstate`` called in the bench process on local ``file_roots``
  (the states engine alone: render, compile, order, apply);
- **salt CLI**: ``salt m01 state.highstate --out json`` (Salt 3008, its defaults; target: pvc's
  master CLI >= 10x faster).

Writes ``<out-dir>/states-<date>.json`` and ``.png`` and prints a markdown table. Exit 1 when a
part failed (the JSON says why).

Examples::

    python -m bench states                          # 500 states, 5 warm runs each, pvc and Salt
    python -m bench states --states 50 --repeat 2 --systems pvc --out-dir /tmp/s   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.procs import timed_runs
from bench.results import host_facts, save
from bench.stats import summarize

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MINION = "m01"
RUN_TIMEOUT = 900.0
CALL_TARGET = 1.5   # through the master / pvc call, at most
SALT_TARGET = 10.0  # salt / pvc through the master, at least


def write_tree(salt: Path, out: Path, states: int) -> None:
    """``top.sls`` and ``bench.sls``: ``states`` file.managed states under ``out``."""
    salt.mkdir(parents=True, exist_ok=True)
    (salt / "top.sls").write_text("base:\n  '*':\n    - bench\n")
    lines = [f"{out}/f{i:04d}:\n  file.managed:\n    - makedirs: true\n    - contents: line {i}\n"
             for i in range(states)]
    (salt / "bench.sls").write_text("".join(lines))


def check_run(proc: subprocess.CompletedProcess, states: int) -> None:
    """A run counts only if it printed ``states`` successful results for the minion."""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, proc.args))[:200]}: exit {proc.returncode}: "
                           f"{(proc.stderr or proc.stdout)[-500:]}")
    data = json.loads(proc.stdout)
    runs = data.get(MINION) or data.get("local")
    if not isinstance(runs, dict) or len(runs) != states or not all(v.get("result") is True for v in runs.values()):
        raise RuntimeError(f"unexpected highstate output: {proc.stdout[:300]}")


def timed(commands: dict[str, list[str]], repeat: int, states: int) -> dict[str, Any]:
    """One cold run of each whole command, then ``repeat`` warm rounds, the commands taking turns
    within a round (so a burst of load on the shared machine hits them alike); milliseconds."""
    out: dict[str, Any] = {}
    warm: dict[str, list[float]] = {name: [] for name in commands}
    for name, argv in commands.items():
        cold, runs = timed_runs(argv, 1, RUN_TIMEOUT)
        check_run(runs[0], states)
        out[name] = {"cold_ms": cold[0]}
    for _ in range(repeat):
        for name, argv in commands.items():
            times, runs = timed_runs(argv, 1, RUN_TIMEOUT)
            check_run(runs[0], states)
            warm[name] += times
    for name in commands:
        out[name]["warm_ms"] = summarize(warm[name])
    return out


def measure_pvc(work: Path, states: int, repeat: int) -> dict[str, Any]:
    from bench.pvc import LOG_LEVEL, PvcSystem

    salt = work / "srv" / "salt"
    write_tree(salt, work / "out-master", states)
    local = work / "srv" / "local"
    write_tree(local, work / "out-call", states)
    result: dict[str, Any] = {}
    system = PvcSystem(work / "pvc")
    with system:
        system.cluster.master_options.update({"file_roots": {"base": [str(salt)]},
                                              "pillar_roots": {"base": [str(work / "srv" / "pillar")]}})
        system.cluster.start_master(wait=True)
        system.cluster.add_minion(MINION, log_level=LOG_LEVEL, modules={"state": {
            "file_roots": {"base": [str(local)]}, "pillar_roots": {"base": [str(work / "srv" / "pillar")]}}})
        system.cluster.wait_connected([MINION], timeout=60)
        master_dir, minion_dir = str(system.cluster.master_dir), str(system.cluster.minion_dir(MINION))
        result.update(timed({
            "master_cli": [*system.pvc, "state", "highstate", "-c", master_dir, MINION, "--out", "json"],
            "call_cli": [*system.pvc, "call", "-c", minion_dir, "state.highstate", "--out", "json"]}, repeat, states))
        client = system.cluster.client()
        api = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            ret = client.run([MINION], "state.highstate", timeout=RUN_TIMEOUT).returns[MINION]
            api.append((time.perf_counter() - t0) * 1000)
            if not ret.ok or len(ret.data) != states:
                raise RuntimeError(f"pvc master API: {ret.error or 'wrong number of states'}")
        result["master_api"] = {"warm_ms": summarize(api)}
        result["in_process"] = measure_in_process(work / "srv" / "inproc", work / "out-inproc", states, repeat)
        version = subprocess.run([*system.pvc, "--version"], capture_output=True, text=True, check=False)
        result["version"] = version.stdout.strip()
    return result


def measure_in_process(tree: Path, out: Path, states: int, repeat: int) -> dict[str, Any]:
    """The same highstate applied in this process (no daemon, no CLI start): what the states
    engine itself costs, render to results. Also its CPU time, which the load of a shared
    machine disturbs far less than the wall time."""
    from pvc.config import MinionConfig
    from pvc.minion.functions import MinionFunctions

    write_tree(tree, out, states)
    roots = {"file_roots": {"base": [str(tree)]}, "pillar_roots": {"base": [str(tree.parent / "no-pillar")]}}
    funcs = MinionFunctions(MinionConfig(id=MINION, modules={"state": roots}), grains={"id": MINION})
    times, cpu = [], []
    for _ in range(repeat + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        ret = funcs.call("state.highstate")
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        if not ret.ok or len(ret.data) != states:
            raise RuntimeError(f"pvc in-process apply: {ret.error or 'wrong number of states'}")
    return {"cold_ms": times[0], "warm_ms": summarize(times[1:]), "warm_cpu_ms": summarize(cpu[1:])}


def measure_salt(work: Path, states: int, repeat: int) -> dict[str, Any]:
    from bench.salt import SaltSystem

    system = SaltSystem(work / "salt")
    with system:
        system.start_master()
        write_tree(system.workdir / "master" / "srv" / "salt", work / "out-salt", states)
        (system.workdir / "master" / "srv" / "pillar").mkdir(parents=True, exist_ok=True)
        system.start_minions([MINION])
        system.driver.call("answering", ids=[MINION], timeout=180.0, every=0.5, budget=240)
        argv = [str(system.bin / "salt"), "-c", str(system.conf_dir), "--out", "json", "--static", "-t", "600",
                MINION, "state.highstate"]
        result = timed({"master_cli": argv}, repeat, states)
        version = subprocess.run([str(system.bin / "salt"), "--version"], capture_output=True, text=True, check=False)
        result["version"] = version.stdout.strip()
    return result


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    pvc, salt = result.get("pvc", {}), result.get("salt", {})
    out = []
    if "master_cli" in pvc and "call_cli" in pvc:
        ratio = pvc["master_cli"]["warm_ms"]["median"] / pvc["call_cli"]["warm_ms"]["median"]
        out.append({"name": "highstate through the master / pvc call (CLI, warm median)", "value": round(ratio, 2),
                    "target": f"<= {CALL_TARGET}", "pass": ratio <= CALL_TARGET})
    if "master_cli" in pvc and "master_cli" in salt:
        ratio = salt["master_cli"]["warm_ms"]["median"] / pvc["master_cli"]["warm_ms"]["median"]
        out.append({"name": "Salt / pvc, highstate through the master (CLI, warm median)", "value": round(ratio, 1),
                    "target": f">= {SALT_TARGET}", "pass": ratio >= SALT_TARGET})
    return out


ROWS = (("pvc", "master_cli", "pvc state highstate (CLI)"), ("pvc", "call_cli", "pvc call state.highstate (CLI)"),
        ("pvc", "master_api", "pvc through the master (Client API)"), ("pvc", "in_process", "pvc in-process apply"),
        ("salt", "master_cli", "salt state.highstate (CLI)"))


def markdown(result: dict[str, Any]) -> str:
    title = f"### Highstate of {result['options']['states']} file.managed states, one minion"
    lines = [f"{title} ({result['options']['repeat']} warm runs)", "",
             "| run | cold ms | warm median ms | warm p95 ms |", "|---|---:|---:|---:|"]
    for system, key, label in ROWS:
        row = result.get(system, {}).get(key)
        if row:
            cold = f"{row['cold_ms']:.0f}" if "cold_ms" in row else "-"
            lines.append(f"| {label} | {cold} | {row['warm_ms']['median']:.0f} | {row['warm_ms']['p95']:.0f} |")
    cpu = result.get("pvc", {}).get("in_process", {}).get("warm_cpu_ms")
    if cpu:
        lines += ["", f"In-process apply, CPU time: median {cpu['median']:.0f} ms, p95 {cpu['p95']:.0f} ms."]
    lines += ["", "| target | value | wanted | |", "|---|---:|---:|---|"]
    lines += [f"| {t['name']} | {t['value']} | {t['target']} | {'pass' if t['pass'] else 'FAIL'} |"
              for t in result["targets"]]
    for where, why in result["errors"].items():
        lines.append(f"\nerror in {where}: {why.splitlines()[-1] if why else ''}")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    """Warm medians as bars on a linear scale (the machine's load in the title)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, values = [], []
    for system, key, label in ROWS:
        row = result.get(system, {}).get(key)
        if row:
            labels.append(label)
            values.append(row["warm_ms"]["median"])
    fig, ax = plt.subplots(figsize=(8, 3.5))
    bars = ax.barh(labels, values, color=["#2a7", "#5b9", "#8cb", "#ade", "#c44"][: len(values)])
    ax.bar_label(bars, labels=[f"{v:.0f} ms" for v in values], padding=3)
    ax.set_xlim(0, max(values, default=1) * 1.2)
    ax.set_xlabel("warm highstate, median wall time (ms)")
    load = result.get("host", {}).get("loadavg_start", [0])[0]
    ax.set_title(f"Highstate of {result['options']['states']} states, one minion (load average {load:.1f})")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def part(result: dict[str, Any], name: str, fn: Callable[[], Any]) -> None:
    print(f"bench states: {name}", file=sys.stderr, flush=True)
    try:
        result[name] = fn()
    except Exception as exc:  # noqa: BLE001 - a failed part is recorded; the other still runs
        result["errors"][name] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench states", description=__doc__.split("\n\n")[0])
    p.add_argument("--states", type=int, default=500, help="file.managed states in the highstate (default 500)")
    p.add_argument("--repeat", type=int, default=5, help="warm runs per measurement (default 5)")
    p.add_argument("--systems", default="pvc,salt", help="pvc,salt (default both)")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, configs)")
    args = p.parse_args(argv)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if not 1 <= args.states <= 10_000 or not 1 <= args.repeat <= 100 or not set(systems) <= {"pvc", "salt"}:
        p.error("--states must be 1..10000, --repeat 1..100, --systems pvc and/or salt")
    date = datetime.now().strftime("%Y-%m-%dT%H%M%S")
    result: dict[str, Any] = {"date": date, "host": host_facts(), "errors": {},
                              "options": {"states": args.states, "repeat": args.repeat, "systems": systems}}
    work = Path(tempfile.mkdtemp(prefix="pvc-bst-"))  # short: Salt's socket paths are bounded
    try:
        if "pvc" in systems:
            part(result, "pvc", lambda: measure_pvc(work / "p", args.states, args.repeat))
        if "salt" in systems:
            part(result, "salt", lambda: measure_salt(work / "s", args.states, args.repeat))
    finally:
        if args.keep:
            print(f"bench states: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["host"]["loadavg_end"] = list(os.getloadavg())
    result["targets"] = targets(result)
    save(args.out_dir, "states", date, result, plot, markdown(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
