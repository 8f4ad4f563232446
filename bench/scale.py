"""``python -m bench scale``: one pvc master against 1 ... 10,000 swarm minions (issue 13).

For each size N (default 1, 10, 100, 1,000, 10,000), in a fresh directory: a master, then N
identities in ``--processes`` swarm processes (``pvc minion --swarm``: each identity with its
own keys, sockets, session, replay cache and return spool, through the same minion code as a
node), and these figures:

- ``startup``: seconds from starting the swarm until every identity answered a ``test.ping``,
  and (``startup.authenticated``, the issue's own measure) until the master had heard the last
  identity's session start (:mod:`bench.authwatch`);
- ``ping_api``: ``test.ping`` to all through the Python API (median, p95), every return counted;
- ``ping_cli``: ``pvc run '*' test.ping --out json`` as a whole process, all N returns printed;
- ``master``: RSS before the swarm, with N connected, and KiB per connected minion above idle;
- ``cpu``: CPU-seconds of the start-up and per API ping (read 2 s after the last, so that the
  acks which follow the returns count), by side (master, swarm) and kind of thread (``python``:
  the process's own loop; ``libzmq``: its I/O threads, which run the transport, CURVE
  included; ``kernel``: the part of both in system calls and page faults): where the time goes;
- ``restart`` (the largest size): the master stopped and started with N connected; seconds until
  every identity answers again (they come back with jittered backoff), and what the new master's
  enrolment port answered (its ``pvc/master/enrolment`` event): ``abandoned`` requests were lost
  (the minion hung up before its answer), ``repeated`` ones answered twice; both should be 0.

Writes ``<out-dir>/scale-<date>.json`` and ``.png`` (start-up time, ping latency and master RSS
against N, log scales, with the issue's targets) and prints a markdown table.

Examples::

    python -m bench scale                                  # 1 ... 10,000 (minutes, all CPUs)
    python -m bench scale --sizes 1,10,100 --out-dir /tmp/s   # a quick run
    python -m bench scale --sizes 3000 --no-restart
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.authwatch import AuthWatch
from bench.driver import DriverError
from bench.measure import Options, cli_ping, startup
from bench.procs import thread_cpu, tree_memory
from bench.pvc import PvcSystem, swarm_ids
from bench.results import host_facts
from bench.stats import summarize
from bench.system import MASTER
from pvc.config import load_master

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SHM = "/dev/shm"  # tmpfs for the swarm's files (--swarm-files)
SIZES = (1, 10, 100, 1000, 10_000)
# the targets at 10,000 minions
ENROLMENT_QUIET = 7  # s without a new enrolment report: the counts have settled
ACKS_SETTLE = 2.0  # s after the last ping before its CPU is read: the master's acks follow its returns
TARGETS = {"startup_s": 30.0, "ping_api_ms": 3000.0, "ping_cli_ms": 4000.0, "kib_per_minion": 20.0,
           "restart_s": 30.0}


def _layout(n: int, processes: int) -> tuple[list[str], int]:
    """Swarm bases and identities per process: at most ``processes`` processes, as many as
    divide N evenly (every process runs the same number of identities)."""
    procs = next(k for k in range(max(1, min(processes, n)), 0, -1) if n % k == 0)
    return [f"s{k}" for k in range(procs)], n // procs


def _ping_api(system: PvcSystem, n: int, repeat: int, timeout: float = 60.0, per_job: float = 90.0) -> dict[str, Any]:
    r = system.driver.call("call", tgt="*", fun="test.ping", args=[], expect=True, repeat=repeat,
                           timeout=timeout, budget=120.0 + repeat * per_job)
    return {**summarize(r["ms"]), "complete_runs": sum(1 for m in r["matched"] if m == n), "returned": r["returned"]}


def _cpu(system: PvcSystem, bases: list[str]) -> dict[str, dict[str, float]]:
    return {"master": thread_cpu([system.procs[MASTER].pid]),
            "swarm": thread_cpu([system.procs[f"minion-{base}"].pid for base in bases])}


def _cpu_spent(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]],
               per: int = 1) -> dict[str, Any]:
    """CPU-seconds between two :func:`_cpu` readings (divided by ``per``), and their total
    (``kernel`` is a part of ``python`` and ``libzmq``, not added to it)."""
    out: dict[str, Any] = {side: {kind: round((after[side][kind] - before[side].get(kind, 0.0)) / per, 3)
                                  for kind in after[side]} for side in after}
    out["total"] = round(sum(out[side][kind] for side in after for kind in ("python", "libzmq")), 3)
    return out


def _master_rss(system: PvcSystem) -> float:
    return tree_memory([system.procs[MASTER].pid]).rss_mib


def _aged(system: PvcSystem, n: int, jobs: int, idle: float) -> dict[str, Any]:
    """Master memory once every connection has carried a few hundred messages: libzmq's message
    queues reach their full size only then, so the figure after a few jobs is a young master's.
    Includes the Python state of the jobs still within their timeout (10 s) and late-return grace."""
    pings = _ping_api(system, n, jobs, timeout=10.0, per_job=30.0)
    time.sleep(1.0)
    rss = _master_rss(system)
    return {"jobs": jobs, "complete_runs": pings["complete_runs"], "rss_mib": rss,
            "kib_per_minion": round((rss - idle) * 1024 / n, 1)}


def measure_size(work: Path, n: int, processes: int, repeat: int, restart: bool, timeout: float,
                 aged_jobs: int = 0, swarm_files: Path | None = None) -> dict[str, Any]:
    bases, per = _layout(n, processes)
    ids = [mid for base in bases for mid in swarm_ids(base, per)]
    opts = Options(start_timeout=timeout)
    out: dict[str, Any] = {"minions": len(ids), "processes": len(bases)}
    system = PvcSystem(work / f"scale-{n}")
    with system:
        system.start_master()
        idle = _master_rss(system)
        master_cpu = thread_cpu([system.procs[MASTER].pid])
        watch = AuthWatch(load_master(str(system.cluster.master_dir)), ids, timeout)

        def start() -> None:
            watch.start()
            system.start_swarm(bases, per, swarm_files)

        out["startup"] = startup(system, ids, opts, start)
        out["startup"]["authenticated"] = watch.result()
        cpu = _cpu(system, bases)  # the swarm's processes are new: all their CPU is the start-up's
        out["cpu"] = {"startup": _cpu_spent({"master": master_cpu, "swarm": {}}, cpu)}
        _guard(out, "ping_api", lambda: _ping_api(system, len(ids), repeat))
        if "error" not in out["ping_api"]:
            time.sleep(ACKS_SETTLE)
            out["cpu"]["per_ping"] = _cpu_spent(cpu, _cpu(system, bases), repeat)
        _guard(out, "ping_cli", lambda: cli_ping(system, max(1, repeat // 2), len(ids), opts.cli_timeout))
        time.sleep(1.0)
        rss = _master_rss(system)
        out["master"] = {"idle_rss_mib": idle, "rss_mib": rss,
                         "kib_per_minion": round((rss - idle) * 1024 / len(ids), 1)}
        out["swarm_rss_mib"] = tree_memory([system.procs[f"minion-{bases[0]}"].pid]).rss_mib
        if aged_jobs:
            _guard(out, "aged", lambda: _aged(system, len(ids), aged_jobs, idle))
        if restart:
            _guard(out, "restart", lambda: _restart(system, ids, opts))
            _guard(out, "ping_after_restart", lambda: _ping_api(system, len(ids), 1))
        _guard(out, "alive", lambda: _alive(system))  # a dead swarm process is noted, not fatal
    return out


def _guard(out: dict[str, Any], name: str, fn: Any) -> None:
    """One figure; its failure is recorded beside the others instead of losing them all."""
    try:
        out[name] = fn()
    except (DriverError, RuntimeError, OSError, ValueError) as exc:
        out[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}


def _alive(system: PvcSystem) -> bool:
    system.check_alive()
    return True


def _restart(system: PvcSystem, ids: list[str], opts: Options) -> dict[str, Any]:
    """The master restarted under N connected minions: seconds until all answer again, and the
    new master's enrolment counts once they settled (cumulative, reported every 5 s on change)."""
    from pvc import events
    from pvc.client import listen
    from pvc.wire.codec import unpack

    heard: list[Any] = []

    def restart() -> None:
        system.cluster.stop_master()
        system.start_master()  # its first report comes 5 s after its start: we hear them all
        heard.append(listen(load_master(str(system.cluster.master_dir)), events.ENROLMENT))

    out = startup(system, ids, opts, restart)
    sock, counts = heard[0], None
    try:
        while sock.poll(ENROLMENT_QUIET * 1000):  # the last change is reported within 5 s
            counts = unpack(sock.recv_multipart()[1])["data"]
    finally:
        sock.close(0)
    return {**out, "enrolment": counts}


def _restart_cell(restart: dict[str, Any]) -> str:
    """Seconds until all answered again, and how many did (a restart that lost some shows it)."""
    if "seconds" not in restart:
        return ""
    return f"{restart['seconds']:.1f} ({restart['answered']}/{restart['of']})"


def _authenticated_cell(auth: dict[str, Any]) -> str:
    """Seconds until the master heard the last session start; how many it heard, if not all."""
    if auth.get("seconds") is not None:
        return f"{auth['seconds']:.1f}"
    return f"({auth['heard']}/{auth['of']} heard)" if "heard" in auth else ""


def markdown(runs: list[dict[str, Any]]) -> str:
    rows = [("| minions | start-up s (answered) | all authenticated s | ping API median ms (p95) | CLI ping median ms "
             "| master RSS MiB | KiB/minion | KiB/minion after more jobs | restart s |"),
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        if "error" in r:
            rows.append(f"| {r['minions']} | error: {r['error'][:80]} | | | | | | | |")
            continue
        aged = r.get("aged", {})
        aged_cell = f"{aged['kib_per_minion']:.0f} ({aged['jobs']} jobs)" if "kib_per_minion" in aged else ""
        st, api, cli, m = r["startup"], r["ping_api"], r["ping_cli"], r["master"]
        restart = r.get("restart", {})
        if "error" in restart:
            restart = {}
        rows.append(f"| {r['minions']} | {st['seconds']:.1f} ({st['answered']}/{st['of']}) | "
                    f"{_authenticated_cell(st.get('authenticated', {}))} | "
                    f"{api.get('median', float('nan')):.0f} ({api.get('p95', float('nan')):.0f}) | "
                    f"{cli.get('median', float('nan')):.0f} | {m['rss_mib']:.0f} | {m['kib_per_minion']:.0f} | "
                    f"{aged_cell} | {_restart_cell(restart)} |")
    for r in runs:
        cpu = r.get("cpu", {})
        if r.get("minions", 0) >= 1000 and "per_ping" in cpu:
            rows.append(f"\nCPU-seconds at {r['minions']}: start-up {_cpu_line(cpu['startup'])}; "
                        f"per ping {_cpu_line(cpu['per_ping'])}")
    for r in runs:
        counts = r.get("restart", {}).get("enrolment")
        if counts:
            rows.append(f"\nrestart at {r['minions']}: the new master accepted {counts['accepted']} auths "
                        f"({counts['repeated']} answered twice), {counts['abandoned']} lost (abandoned while queued), "
                        f"{counts['busy']} 'busy' answers, {counts['refused']} refused")
    rows.append(f"\ntargets at 10,000: all authenticated < {TARGETS['startup_s']:.0f} s, API ping < {TARGETS['ping_api_ms']:.0f} ms, "
                f"CLI ping < {TARGETS['ping_cli_ms']:.0f} ms, <= {TARGETS['kib_per_minion']:.0f} KiB per minion, "
                f"restart < {TARGETS['restart_s']:.0f} s")
    return "\n".join(rows)


def _cpu_line(spent: dict[str, Any]) -> str:
    m, sw = spent["master"], spent["swarm"]
    return (f"{spent['total']:.2f} (master {m['python']:.2f} loop + {m['libzmq']:.2f} libzmq, "
            f"swarm {sw['python']:.2f} Python + {sw['libzmq']:.2f} libzmq; "
            f"in the kernel: master {m['kernel']:.2f}, swarm {sw['kernel']:.2f})")


def verify_ms(count: int = 2000) -> float:
    """This box's cost of one Ed25519 signature check (ms): every minion does one per broadcast,
    so N of them, one after another, are the physical floor of a ping to N minions here."""
    from pvc.crypto import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    msg = b"x" * 200
    sig, pub = key.sign(msg), key.public_key()
    t0 = time.perf_counter()
    for _ in range(count):
        pub.verify(sig, msg)
    return (time.perf_counter() - t0) * 1000 / count


def plot(runs: list[dict[str, Any]], path: Path, floor_ms: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in runs if "error" not in r]
    ns = [r["minions"] for r in ok]
    fig, (start, lat, mem) = plt.subplots(1, 3, figsize=(16, 5))
    start.plot(ns, [r["startup"]["seconds"] for r in ok], "o-", label="start until all answer")
    authed = [(r["minions"], a["seconds"]) for r in ok
              if (a := r["startup"].get("authenticated", {})).get("seconds") is not None]
    if authed:
        start.plot(*zip(*authed), "x--", label="start until all authenticated")
    restarts = [(r["minions"], r["restart"]["seconds"]) for r in ok if "seconds" in r.get("restart", {})]
    if restarts:
        start.plot(*zip(*restarts), "s", label="master restart until all answer")
    start.axhline(TARGETS["startup_s"], color="gray", linestyle=":", label="target at 10,000")
    api = [(r["minions"], r["ping_api"]["median"], r["ping_api"]["p95"]) for r in ok if r["ping_api"].get("median")]
    if api:
        an, med, p95 = zip(*api)
        lat.errorbar(an, med, yerr=[[0.0] * len(med), [p - m for m, p in zip(med, p95)]], fmt="o-", capsize=3,
                     label="test.ping, API (median, bar to p95)")
    cli = [(r["minions"], r["ping_cli"]["median"]) for r in ok if r["ping_cli"].get("complete_runs")]
    if cli:
        lat.plot(*zip(*cli), "s-", label="pvc run '*' test.ping (CLI)")
    lat.plot(ns, [n * floor_ms for n in ns], "--", color="green",
             label=f"floor: N Ed25519 checks ({floor_ms:.3f} ms each, one core)")
    lat.axhline(TARGETS["ping_api_ms"], color="gray", linestyle=":", label="API target at 10,000")
    lat.axhline(TARGETS["ping_cli_ms"], color="black", linestyle=":", label="CLI target at 10,000")
    rss = [(r["minions"], r["master"]["rss_mib"]) for r in ok if r["master"]["rss_mib"] > 0]  # 0: it died
    if rss:
        mem.plot(*zip(*rss), "o-", label="master RSS, N connected")
    aged = [(r["minions"], r["aged"]["rss_mib"], r["aged"]["jobs"]) for r in ok if "rss_mib" in r.get("aged", {})]
    if aged:
        mem.plot([a[0] for a in aged], [a[1] for a in aged], "^", color="red",
                 label=f"master RSS after {aged[0][2]} more jobs (queues at full size)")
    mem.plot(ns, [r["master"]["idle_rss_mib"] + TARGETS["kib_per_minion"] * n / 1024 for r, n in zip(ok, ns)],
             ":", color="gray", label="idle + 20 KiB per minion (target)")
    for ax, title, unit in ((start, "Start-up of N swarm minions", "s"), (lat, "test.ping to all N", "ms"),
                            (mem, "Master memory", "MiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("minions (N)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated minion counts (1..100000)")
    p.add_argument("--processes", type=int, default=4, help="swarm processes (default 4)")
    p.add_argument("--repeat", type=int, default=5, help="API pings per size (CLI: half as many)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for all minions to answer")
    p.add_argument("--no-restart", action="store_true", help="skip the master restart at the largest size")
    p.add_argument("--aged-jobs", type=int, default=300,
                   help="at the sizes of --aged-sizes, master memory again after this many more pings (0: never)")
    p.add_argument("--aged-sizes", default="1000", help="comma-separated sizes for --aged-jobs (default 1000)")
    p.add_argument("--swarm-files", choices=("disk", "tmpfs"), default="disk",
                   help="where the swarm's identities keep their keys, pins and spools: disk (default, beside "
                        f"the master's files) or tmpfs ({SHM}: for A/B runs on a box whose file creation is "
                        "dear and erratic; a fleet's nodes write these on their own disks)")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = p.parse_args(argv)
    try:
        sizes = sorted({int(x) for x in args.sizes.split(",") if x.strip()})
        aged_sizes = {int(x) for x in args.aged_sizes.split(",") if x.strip()}
    except ValueError:
        p.error("--sizes, --aged-sizes: use a comma-separated list of counts, e.g. 1,10,100")
    if not 0 <= args.aged_jobs <= 10_000:
        p.error("--aged-jobs: 0..10000")
    if not sizes or not all(1 <= n <= 100_000 for n in sizes) or not 1 <= args.processes <= 64:
        p.error("--sizes: counts 1..100000; --processes: 1..64")
    date = datetime.now().strftime("%Y-%m-%dT%H%M%S")
    host = host_facts()
    runs: list[dict[str, Any]] = []
    if args.swarm_files == "tmpfs" and not os.access(SHM, os.W_OK):
        p.error(f"--swarm-files tmpfs: {SHM} is not a writable directory here; use --swarm-files disk")
    work = Path(tempfile.mkdtemp(prefix="pvc-scale-"))
    swarm_root: Path | None = None
    try:
        if args.swarm_files == "tmpfs":  # inside the try: a failure here still removes ``work``
            swarm_root = Path(tempfile.mkdtemp(prefix="pvc-scale-swarm-", dir=SHM))
        for n in sizes:
            print(f"bench scale: N={n}", file=sys.stderr, flush=True)
            try:
                runs.append(measure_size(work, n, args.processes, args.repeat,
                                         restart=n == sizes[-1] and not args.no_restart, timeout=args.timeout,
                                         aged_jobs=args.aged_jobs if n in aged_sizes else 0,
                                         swarm_files=swarm_root / f"scale-{n}" if swarm_root else None))
            except (DriverError, RuntimeError, OSError, ValueError) as exc:  # recorded; the next size still runs
                runs.append({"minions": n, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if swarm_root is not None:
            shutil.rmtree(swarm_root, ignore_errors=True)
    host["loadavg_end"] = list(os.getloadavg())
    args.out_dir.mkdir(parents=True, exist_ok=True)
    base = args.out_dir / f"scale-{date}"
    floor_ms = verify_ms()
    base.with_suffix(".json").write_text(json.dumps({"date": date, "host": host, "targets": TARGETS,
                                                     "options": vars(args) | {"out_dir": str(args.out_dir)},
                                                     "floor": {"ed25519_verify_ms": floor_ms},
                                                     "runs": runs}, indent=1) + "\n")
    plot(runs, base.with_suffix(".png"), floor_ms)
    print(markdown(runs))
    print(f"\nwrote {base}.json and .png", file=sys.stderr)
    return 1 if any("error" in r for r in runs) else 0
