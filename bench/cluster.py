"""``python -m bench cluster``: pvc's cluster figures on a real ``pvc lab`` (issue 9).

On a fresh lab (3 nodes, 2 masters, 1 ZooKeeper; every process started by ``pvc lab up`` and
stopped by ``pvc lab down``):

1. **idle memory**: VmRSS of each hypervisor node's minion (``cluster:`` and the virt module
   configured; PIDs from lab.json) and of a plain minion (same masters, no ``cluster:``, no
   virt) started here for the purpose, beside Salt's idle minion from the newest
   ``bench/results/<date>.json`` that has one (Salt is not run here);
2. **flush / ready**: ``--vms`` ticking guests defined on hv1 with ``pvc vm define``, then for
   each ``--parallel`` value ``pvc node flush hv1 --wait`` and ``pvc node ready hv1 --wait``,
   each with its zero-downtime evidence: every step live and done, QEMU's reported downtime
   (max, median), every guest's serial tick sequence unbroken and still advancing, one boot
   only, every VM running afterwards;
3. **new primary**: ``--repeat`` times, SIGKILL of the primary master — its coordinator first,
   then its ``pvc master`` — and the time until another coordinator is recorded at ``/primary``
   in ZooKeeper and until it has *acted*: carried out a no-op ``node.ready hv3`` request
   submitted right after the kill. The killed master is restarted for the next round.

Why the whole master, coordinator first: the primary seat is held by the coordinator (the
ZooKeeper election's ephemeral lock), a child of ``pvc master``. SIGKILL of the master alone
would SIGTERM the coordinator (PDEATHSIG), which then hands the seat over cleanly — a shutdown,
not a crash. Killing the coordinator first leaves the seat to the session timeout, as a crashed
host would.

Writes ``<out-dir>/cluster-<date>.json`` and ``.png`` and prints a markdown table beside PVC's
published figures (serial flush, up to 120 s per VM; 65–75 s to replace a primary coordinator)
and the targets (new primary < 5 s; flush of 10 VMs < 10 s). Exit 1 when a part failed.

Examples::

    python -m bench cluster                              # 10 VMs, 5 kills, parallel 1,2,4
    python -m bench cluster --vms 2 --repeat 1 --parallel 2 --out-dir /tmp/c   # the smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from bench.procs import spawn, stop_trees
from bench.report import cluster_markdown, cluster_targets
from bench.results import host_facts, save

RESULTS_DIR = Path(__file__).resolve().parent / "results"
FLUSHED = "hv1"
NOOP_NODE = "hv3"  # empty after every ready: its ready request moves nothing
SETTLE_S = 2.0
KILL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Options:
    vms: int = 10
    repeat: int = 5
    parallel: tuple[int, ...] = (1, 2, 4)


def pvc(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pvc.cli.main", *args], check=False, capture_output=True,
                          text=True, timeout=timeout)


def pvc_json(*args: str, timeout: float = 600) -> Any:
    proc = pvc(*args, "--out", "json", timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"pvc {' '.join(args)}: exit {proc.returncode}: {(proc.stderr or proc.stdout)[-600:]}")
    return json.loads(proc.stdout)


def rss_mib(pid: int) -> float:
    """VmRSS of ``pid`` from /proc/PID/status, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for PID {pid}")


def ticks(lab_dir: Path, vm: str) -> tuple[int, list[int]]:
    """(boots, tick numbers) from the guest's serial log DIR/console/<vm>.log."""
    lines = (lab_dir / "console" / f"{vm}.log").read_text(errors="replace").splitlines()
    numbers = [int(p[1]) for p in (line.split() for line in lines) if p[:1] == ["tick"] and p[1:2] and p[1].isdigit()]
    return sum(1 for line in lines if line.startswith("GUEST-UP")), numbers


# -- 1. memory -------------------------------------------------------------------------------

def salt_idle_minion(results_dir: Path) -> dict[str, Any] | None:
    """Salt's idle minion (smallest N) from the newest side-by-side results file that has one."""
    for path in sorted(results_dir.glob("2*.json"), reverse=True):
        try:
            runs = json.loads(path.read_text()).get("runs", {})
        except (OSError, ValueError):
            continue
        salt = runs.get("salt", {})
        for n in sorted(salt, key=int):
            mem = salt[n].get("minion_memory", {})
            if isinstance(mem.get("rss_mib"), (int, float)):
                pvc_mem = runs.get("pvc", {}).get(n, {}).get("minion_memory", {})
                return {"rss_mib": mem["rss_mib"], "processes": mem.get("processes"), "n": int(n),
                        "source": path.name, "pvc_bench_minion_rss_mib": pvc_mem.get("rss_mib")}
    return None


def measure_memory(lab: Any, work: Path, results_dir: Path) -> dict[str, Any]:
    """Idle RSS of every hypervisor minion and of a plain minion serving the same masters."""
    from pvc.client import Client

    d = work / "plain-minion"
    d.mkdir(parents=True)
    cfg = {"id": "plain1", "master": [f"{m.address}:{m.ret_port}" for m in lab.masters], "root_dir": "root",
           "acceptance_wait_time": 0.5, "heartbeat": 1.0}
    (d / "minion").write_text(yaml.safe_dump(cfg))
    proc = spawn([sys.executable, "-m", "pvc.cli.main", "minion", "-c", str(d)], d / "minion.out")
    try:
        deadline = time.monotonic() + 30
        with Client(lab.masters[0].config_dir) as client:
            while client.run(["plain1"], "test.ping", timeout=2).returns.get("plain1") is None:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"plain minion did not answer: {(d / 'minion.out').read_text()[-400:]}")
        time.sleep(SETTLE_S)
        hv = {n.name: rss_mib(n.minion_pid) for n in lab.nodes}
        plain = rss_mib(proc.pid)
    finally:
        stop_trees([proc])
    return {"plain_minion_rss_mib": plain, "hypervisor_minion_rss_mib": statistics.median(hv.values()),
            "hypervisor_minions_rss_mib": hv, "salt_minion": salt_idle_minion(results_dir)}


# -- 2. flush and ready ----------------------------------------------------------------------

def define_vms(lab: Any, names: list[str], xml_dir: Path) -> None:
    from pvc.lab import guests
    from pvc.virt.domain import domain_xml, parse_spec

    xml_dir.mkdir(exist_ok=True)
    for name in names:
        path = xml_dir / f"{name}.xml"
        path.write_text(domain_xml(parse_spec(guests.spec(name)), console_dir=str(Path(lab.dir) / "console")))
        pvc_json("-c", lab.masters[0].config_dir, "vm", "define", str(path), "--node", FLUSHED)


def last_ticks(lab_dir: Path, names: list[str], timeout: float = 120.0) -> dict[str, int]:
    """The last tick of each guest, once every one of them ticks."""
    deadline = time.monotonic() + timeout
    while True:
        seen = {n: ticks(lab_dir, n)[1] if (lab_dir / "console" / f"{n}.log").exists() else [] for n in names}
        if all(seen.values()):
            return {n: t[-1] for n, t in seen.items()}
        if time.monotonic() > deadline:
            raise RuntimeError(f"guests not ticking after {timeout:g} s: {sorted(n for n, t in seen.items() if not t)}")
        time.sleep(0.2)


def request(lab: Any, verb: str, parallel: int, names: list[str]) -> dict[str, Any]:
    """One ``pvc node flush|ready hv1 --wait`` with its zero-downtime evidence."""
    lab_dir, master = Path(lab.dir), lab.masters[0].config_dir
    before = last_ticks(lab_dir, names)
    t0 = time.monotonic()
    r = pvc_json("-c", master, "node", verb, FLUSHED, "--wait", "--parallel", str(parallel))
    wall = time.monotonic() - t0
    time.sleep(1.5)  # the guests tick once a second: at least one tick after the last switch-over
    downtimes = [s["downtime_ms"] for s in r["steps"] if s["downtime_ms"] is not None]
    evidence = {n: ticks(lab_dir, n) for n in names}
    states = {v["name"]: v for v in pvc_json("-c", master, "vm", "list")}
    return {"state": r["state"], "seconds": r["seconds"], "cli_wall_s": round(wall, 2), "vms": len(r["steps"]),
            "steps_done_live": sum(1 for s in r["steps"] if s["state"] == "done" and s["method"] == "live"),
            "downtime_ms_max": max(downtimes, default=None),
            "downtime_ms_median": statistics.median(downtimes) if downtimes else None,
            "downtime_reported": len(downtimes), "owner": r["owner"],
            "restarted": sorted(n for n, (boots, _) in evidence.items() if boots != 1),
            "tick_gaps": sorted(n for n, (_, t) in evidence.items() if t != list(range(t[0], t[0] + len(t)))),
            "stalled": sorted(n for n, (_, t) in evidence.items() if not t or t[-1] <= before[n]),
            "not_running": sorted(n for n in names if states.get(n, {}).get("state") != "running")}


def zero_downtime(run: dict[str, Any]) -> bool:
    return (run["state"] == "done" and run["steps_done_live"] == run["vms"] == run["downtime_reported"]
            and not (run["restarted"] or run["tick_gaps"] or run["stalled"] or run["not_running"]))


# -- 3. new primary --------------------------------------------------------------------------

def coordinator_id(master: Any) -> str:
    """The election identity ``pvc master`` gives its coordinator (HOST-<config dir name>)."""
    return f"{socket.gethostname().split('.')[0]}-{Path(master.config_dir).name}"


def coordinator_pid(master: Any) -> int:
    import psutil

    for child in psutil.Process(master.pid).children():
        if "pvc.runners.coordinator" in " ".join(child.cmdline()):
            return child.pid
    raise RuntimeError(f"master {master.name} (PID {master.pid}) runs no coordinator")


def wait_until(what: str, check: Callable[[], Any], timeout: float, every: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:g} s")
        time.sleep(every)


def kill_primary(lab_dir: Path, ctx: Any, restart: bool) -> dict[str, Any]:
    """SIGKILL the primary master (coordinator first); time the new primary, recorded and acting."""
    from pvc.lab import masters, procs, state
    from pvc.runners.nodes import ready

    lab = state.load(lab_dir)
    store = ctx.store
    old = wait_until("a primary", store.primary, 10).id
    victim = next(m for m in lab.masters if coordinator_id(m) == old)
    coord = coordinator_pid(victim)
    t0, wall0 = time.monotonic(), time.time()
    os.kill(coord, signal.SIGKILL)
    os.kill(victim.pid, signal.SIGKILL)
    req = ready(ctx, NOOP_NODE)["request"]  # waits in ZooKeeper for whoever is primary next
    new = wait_until("new primary", lambda: (p := store.primary()) is not None and p.id != old and p, KILL_TIMEOUT_S)
    recorded = time.monotonic() - t0

    def acted() -> Any:
        found = ctx.tree.request(NOOP_NODE)
        return found is not None and found.record.id == req and found.record.state.value == "done" and found.record
    done = wait_until("new primary acting", acted, KILL_TIMEOUT_S)
    acting = time.monotonic() - t0
    procs.wait_dead([coord, victim.pid], 10)
    run = {"killed": old, "new": new.id, "recorded_s": round(recorded, 3), "acting_s": round(acting, 3),
           "request_owner": done.owner, "taken_after_s": round((done.started or wall0) - wall0, 3)}
    if restart:  # back in line for the next round, its new PID in lab.json (lab down stops it)
        back = masters.start(victim)
        state.update(lab_dir, lambda lab: dataclasses.replace(lab, masters=tuple(
            back if m.name == back.name else m for m in lab.masters)))
        masters.wait_ready(back)
        election = store.client.zk.Lock(store.schema.path("election"))
        wait_until("restarted master contending", lambda: len(election.contenders()) >= len(lab.masters), 30, 0.1)
    return run


def measure_primary(lab: Any, repeat: int) -> dict[str, Any]:
    from pvc.cli.runner import runner_context
    from pvc.lab import up

    runs = []
    with runner_context(lab.masters[-1].config_dir, lab.zookeeper.hosts, up.CLUSTER_ROOT) as ctx:
        for k in range(repeat):
            runs.append(kill_primary(Path(lab.dir), ctx, restart=k < repeat - 1))
            print(f"bench cluster: kill {k + 1}/{repeat}: {runs[-1]}", file=sys.stderr, flush=True)
    return {"runs": runs, "recorded_median_s": statistics.median(r["recorded_s"] for r in runs),
            "acting_median_s": statistics.median(r["acting_s"] for r in runs),
            "acting_max_s": max(r["acting_s"] for r in runs)}


# -- the run ---------------------------------------------------------------------------------

@contextmanager
def bench_lab(work: Path, result: dict[str, Any]) -> Iterator[Any]:
    """``pvc lab up`` (3 nodes, 2 masters, no VMs) in ``work/lab``, its times in ``result["lab"]``;
    ``pvc lab down`` afterwards whatever happened, its last line (CLEAN or not) recorded."""
    from pvc.lab import state

    lab_dir = work / "lab"
    print(f"bench: lab {lab_dir}", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    up = pvc("lab", "up", "--dir", str(lab_dir), "--nodes", "3", "--masters", "2", "--vms", "0")
    result["lab"] = {"up_s": round(time.monotonic() - t0, 1), "nodes": 3, "masters": 2, "zookeeper": 1}
    try:
        if up.returncode != 0:
            raise RuntimeError(f"pvc lab up: exit {up.returncode}: {(up.stderr or up.stdout)[-800:]}")
        yield state.load(lab_dir)
    finally:
        down = pvc("lab", "down", "--dir", str(lab_dir), timeout=180)
        result["lab"]["down"] = (down.stdout.strip().splitlines() or [""])[-1]
        if down.returncode != 0:
            result["errors"]["lab down"] = (down.stderr or down.stdout)[-600:]


def run(opts: Options, work: Path, results_dir: Path, result: dict[str, Any]) -> None:
    """Every part on one lab; a part that fails is recorded in result["errors"], the next runs."""
    with bench_lab(work, result) as lab:
        names = [f"b{i}" for i in range(1, opts.vms + 1)]
        part(result, "memory", lambda: measure_memory(lab, work, results_dir))
        if part(result, "define", lambda: define_vms(lab, names, work / "xml")) is not None:
            part(result, "flush", lambda: measure_flush(lab, names, opts.parallel))
        part(result, "primary", lambda: measure_primary(lab, opts.repeat))


def measure_flush(lab: Any, names: list[str], parallel: tuple[int, ...]) -> list[dict[str, Any]]:
    last_ticks(Path(lab.dir), names)
    out = []
    for p in parallel:
        out.append({"parallel": p, "flush": request(lab, "flush", p, names), "ready": request(lab, "ready", p, names)})
        print(f"bench cluster: parallel {p}: {json.dumps(out[-1])}", file=sys.stderr, flush=True)
    return out


def part(result: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    print(f"bench cluster: {name}", file=sys.stderr, flush=True)
    try:
        value = fn()
    except Exception as exc:  # noqa: BLE001 - recorded; the other parts still run
        result["errors"][name] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        return None
    result[name] = value if value is not None else True
    return result[name]


def _parallel(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--parallel {text!r}: a comma-separated list, e.g. 1,2,4") from None
    if not values or any(not 1 <= v <= 64 for v in values):
        raise argparse.ArgumentTypeError("--parallel: each value 1..64")
    return values


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench cluster", description=__doc__.split("\n\n")[0])
    p.add_argument("--vms", type=int, default=10, help="guests to flush off hv1 (default 10)")
    p.add_argument("--repeat", type=int, default=5, help="primary kills, the median is reported (default 5)")
    p.add_argument("--parallel", type=_parallel, default=(1, 2, 4), help="flush/ready parallelism (default 1,2,4)")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--keep", action="store_true", help="keep the lab directory (logs, consoles) after lab down")
    args = p.parse_args(argv)
    if not 1 <= args.vms <= 40 or not 1 <= args.repeat <= 50:
        p.error("--vms must be 1..40 and --repeat 1..50")
    opts = Options(args.vms, args.repeat, args.parallel)
    date = datetime.now().strftime("%Y-%m-%dT%H%M%S")
    result: dict[str, Any] = {"date": date, "host": host_facts(), "options": {"vms": opts.vms, "repeat": opts.repeat,
                              "parallel": list(opts.parallel)}, "errors": {}}
    work = Path(tempfile.mkdtemp(prefix="pvc-bench-cluster-"))
    try:
        run(opts, work, RESULTS_DIR, result)
    finally:
        if args.keep:
            print(f"bench cluster: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["host"]["loadavg_end"] = list(os.getloadavg())
    for run_ in result.get("flush", []) if isinstance(result.get("flush"), list) else []:
        for verb in ("flush", "ready"):
            run_[verb]["zero_downtime"] = zero_downtime(run_[verb])
    result["targets"] = cluster_targets(result)
    from bench.plot import plot_cluster

    save(args.out_dir, "cluster", date, result, plot_cluster, cluster_markdown(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
