"""``python -m bench`` (``make bench``): pvc and real Salt, side by side, on 127.0.0.1.

Each system is measured alone, size after size, in a fresh temporary directory (keys are made
on the minions' first start), and torn down by PID before the next starts. Writes
``<out-dir>/<date>.json`` and ``<date>.png`` and prints a markdown table with pvc's advantage
and the issue's targets, pass or fail. Exit code 1 if a whole run failed (the JSON says why).

Examples::

    python -m bench                                   # N=1,10,50, 20 repeats, both systems, then `cluster`
    python -m bench --minions 2 --repeat 2 --seconds 1 --out-dir /tmp/b   # the CI smoke run
    python -m bench --systems pvc --minions '' --scale                    # 1,000 pvc minions only
    python -m bench --report bench/results/2025-11-25T075252.json         # the table of a saved run
    python -m bench chaos-core --seed 7 --minutes 2                       # crashes lose nothing (issue 14)
    python -m bench cluster --vms 10 --repeat 5 --parallel 1,2,4          # failover, flush on pvc lab (issue 9)
    python -m bench failover --vms 4 --repeat 5                           # node death, primary loss on pvc lab (issue 10)
    python -m bench chaos --seed 7 --steps 20                             # seeded faults, invariants after each (issue 10)
    python -m bench states --states 500 --repeat 5                        # highstate: master, pvc call, Salt (issue 11)

Without any argument (``make bench``) the cluster benchmark runs after the side-by-side one, so
its table sits beside the Salt idle minion just measured; any explicit argument runs only what it
names (the CI smoke runs stay short, and the cluster one needs root for the lab).
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bench.measure import Options, measure, measure_scale, version_cli
from bench.plot import plot
from bench.pvc import PvcSystem
from bench.report import markdown
from bench.results import Results
from bench.salt import SaltSystem
from bench.system import System
from bench.targets import as_records, evaluate

SYSTEMS: dict[str, type[System]] = {"pvc": PvcSystem, "salt": SaltSystem}
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--minions {text!r}: use a comma-separated list of counts, e.g. 1,10,50")
    if any(n < 1 or n > 500 for n in sizes):
        raise argparse.ArgumentTypeError("--minions: each count must be 1..500 (use --scale for more)")
    return sizes


def _systems(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"--systems: choose from {', '.join(SYSTEMS)}")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--minions", type=_sizes, default=[1, 10, 50], help="sizes N to run (default 1,10,50)")
    p.add_argument("--repeat", type=int, default=20, help="runs per latency measurement (default 20)")
    p.add_argument("--systems", type=_systems, default=list(SYSTEMS), help="pvc,salt (default both)")
    p.add_argument("--seconds", type=float, default=10.0, help="window of each jobs/s measurement (default 10)")
    p.add_argument("--scale", action="store_true", help="also run 1,000 pvc minions (swarm processes)")
    p.add_argument("--scale-minions", type=int, default=1000)
    p.add_argument("--scale-processes", type=int, default=4, help="swarm processes for --scale (default 4)")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where the JSON and PNG go")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, configs)")
    p.add_argument("--report", type=Path, metavar="JSON", help="only print the table of a saved run (and redraw its PNG)")
    args = p.parse_args(argv)
    if not 1 <= args.repeat <= 1000 or not 0 < args.seconds <= 600:
        p.error("--repeat must be 1..1000 and --seconds 0..600")
    if args.scale and not 1 <= args.scale_processes <= args.scale_minions <= 100_000:
        p.error("--scale-processes must be 1..--scale-minions, and --scale-minions at most 100000")
    return args


def _attempt(results: Results, system: str, where: str, fn: Callable[[], None]) -> None:
    """Run one part of the benchmark; a failure is recorded and the next part still runs."""
    print(f"bench: {system} {where}", file=sys.stderr, flush=True)
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - a part's failure of any kind is recorded; the others still run
        results.add_error(system, where, f"{type(exc).__name__}: {exc}")


def run_system(name: str, args: argparse.Namespace, opts: Options, work: Path, results: Results) -> None:
    cls = SYSTEMS[name]

    def sized(n: int) -> None:
        with cls(work / f"{name}-{n}") as system:
            results.add_run(name, n, measure(system, n, opts))
            results.versions.setdefault(name, system.driver.call("version"))

    def version() -> None:
        with cls(work / f"{name}-version") as system:
            results.version_cli[name] = version_cli(system, args.repeat)

    def scale() -> None:
        with PvcSystem(work / f"{name}-scale") as system:
            results.scale = measure_scale(system, opts)
            results.versions.setdefault(name, system.driver.call("version"))

    for n in args.minions:
        _attempt(results, name, f"N={n}", functools.partial(sized, n))
    _attempt(results, name, "--version", version)
    if args.scale and issubclass(cls, PvcSystem):
        _attempt(results, name, f"scale N={opts.scale_minions}", scale)


def report(path: Path) -> int:
    try:
        results = Results.load(path)
    except (OSError, ValueError, TypeError) as exc:
        print(f"bench: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    plot(results, path.with_suffix(".png"))
    print(markdown(results, evaluate(results)))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["chaos-core"]:
        from bench import chaos_core
        return chaos_core.main(argv[1:])
    if argv[:1] == ["flood"]:  # python -m bench flood: a stranger flood against pvc (issue 7)
        from bench import flood
        return flood.main(argv[1:])
    if argv[:1] == ["cluster"]:  # python -m bench cluster: failover, flush, minion memory on pvc lab (issue 9)
        from bench import cluster
        return cluster.main(argv[1:])
    if argv[:1] == ["failover"]:  # python -m bench failover: node death -> VMs elsewhere, primary loss (issue 10)
        from bench import failover
        return failover.main(argv[1:])
    if argv[:1] == ["chaos"]:  # python -m bench chaos: seeded faults on pvc lab, invariants after each (issue 10)
        from bench import chaos
        return chaos.main(argv[1:])
    if argv[:1] == ["scale"]:  # python -m bench scale: 1 ... 10,000 swarm minions on one master (issue 13)
        from bench import scale
        return scale.main(argv[1:])
    if argv[:1] == ["states"]:  # python -m bench states: highstate via the master vs pvc call vs Salt (issue 11)
        from bench import states
        return states.main(argv[1:])
    args = parse_args(argv)
    if args.report:
        return report(args.report)
    opts = Options(repeat=args.repeat, seconds=args.seconds, scale_minions=args.scale_minions,
                   scale_processes=args.scale_processes)
    date = datetime.now().strftime("%Y-%m-%dT%H%M%S")
    results = Results(date=date, options={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()})
    work = Path(tempfile.mkdtemp(prefix="pvc-bench-"))
    try:
        for name in args.systems:
            run_system(name, args, opts, work, results)
    finally:
        if args.keep:
            print(f"bench: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    results.host["loadavg_end"] = list(os.getloadavg())
    outcomes = evaluate(results)
    results.targets = as_records(outcomes)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{date}.json").write_text(results.to_json() + "\n")
    plot(results, args.out_dir / f"{date}.png")
    print(markdown(results, outcomes))
    print(f"\nwrote {args.out_dir / f'{date}.json'} and {date}.png", file=sys.stderr)
    code = 1 if results.errors else 0
    if not argv:  # bare `python -m bench` (`make bench`): the cluster figures too, beside this run's Salt minion
        from bench import cluster
        code = max(code, cluster.main(["--out-dir", str(args.out_dir)]))
    return code


if __name__ == "__main__":
    sys.exit(main())
