"""``python -m bench chaos``: a seeded chaos run on a real ``pvc lab`` that checks, after every
step, that fencing and recovery stay safe (issue 10 §5).

On a fresh lab (3 nodes, 2 masters, a 3-server ZooKeeper ensemble; ``pvc lab up`` / ``pvc lab
down``) ``--vms`` guests are defined round-robin over the nodes. Then ``--steps`` times: a fault
drawn with the seed from ``--faults`` (see :mod:`bench.chaos_faults`: node hang, power loss,
BMC unreachable + hang, clean minion stop, two nodes at once, primary SIGKILLed during a
recovery, ZooKeeper leader killed, partitioned node), the wait — bounded — for the cluster's
answer, then the repair (power on, ``pvc node ready``, restarts). After the fault and after the
repair the invariants of :mod:`bench.chaos_checks` are checked, over what a watcher read from
every node's libvirt four times a second all along (:mod:`bench.chaos_watch`).

Writes ``<out-dir>/chaos-<date>.json`` and ``.png``, prints the faults, the recoveries (seconds
from the fault to all of its nodes' VMs running elsewhere), the slowest one and every
violation. Exit 1 on any violation or a step that could not be carried out, 2 on bad options.
The seed fixes the scenario (which faults, which nodes); a shared machine's timing does not
repeat to the millisecond.

Examples::

    python -m bench chaos --seed 7 --steps 20
    python -m bench chaos --seed 3 --steps 2 --faults hang,zk-leader --vms 3 --out-dir /tmp/c   # CI
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.chaos_checks import Violation, check, extra_boots, gather, started_by
from bench.chaos_faults import FAULTS, Step, World, homes, repair
from bench.chaos_report import markdown, plot, summarise
from bench.chaos_watch import Watcher
from bench.cluster import pvc, pvc_json, ticks, wait_until
from bench.results import host_facts, save

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MAX_STEPS = 500


@dataclass(frozen=True)
class ChaosOptions:
    seed: int
    steps: int
    vms: int = 6
    faults: tuple[str, ...] = tuple(FAULTS)
    boot_wait: float = 60.0


def define_vms(lab: Any, count: int, xml_dir: Path) -> list[str]:
    """``count`` lab guests defined (and started) round-robin over the nodes."""
    from pvc.lab import guests
    from pvc.virt.domain import domain_xml, parse_spec

    xml_dir.mkdir(exist_ok=True)
    names = [f"x{i}" for i in range(1, count + 1)]
    for i, name in enumerate(names):
        path = xml_dir / f"{name}.xml"
        path.write_text(domain_xml(parse_spec(guests.spec(name)), console_dir=str(Path(lab.dir) / "console")))
        node = lab.nodes[i % len(lab.nodes)].name
        pvc_json("-c", lab.masters[0].config_dir, "vm", "define", str(path), "--node", node)
    return names


def one(world: World, watch: Watcher, index: int, name: str, act: Any) -> dict[str, Any]:
    """Carry out one step (a fault or the repair), then check the invariants over it."""
    t0 = time.time()
    print(f"bench chaos: step {index}: {name}", file=sys.stderr, flush=True)
    try:
        step: Step = act()
    except Exception as exc:  # noqa: BLE001 - recorded: its VMs are then checked as possibly lost
        traceback.print_exc()
        step = Step(name, (), t0, error=f"{type(exc).__name__}: {exc}")
    step.seconds = round(time.time() - t0, 3)
    wait_until("a watcher sample of the step's end", watch.try_sample, 30, every=0.25)
    evidence = gather(world, step)
    found = [Violation(v.invariant, v.detail, index) for v in check(step, watch.since(min(t0, step.t0)), evidence)]
    record = {"index": index, **asdict(step), "violations": [str(v) for v in found], "started": started_by(step, evidence)}
    for key in ("may_fence", "clean"):
        record[key] = sorted(record[key])
    print(f"bench chaos: step {index}: {name} {list(step.nodes)} recovery {step.recovery_s} s, "
          f"{len(found)} violation(s) {step.error}", file=sys.stderr, flush=True)
    return record


def chaos(opts: ChaosOptions, lab_dir: Path, work: Path, result: dict[str, Any]) -> None:
    from pvc.cluster.client import connect
    from pvc.cluster.store import ClusterStore
    from pvc.lab import state, up

    lab = state.load(lab_dir)
    names = define_vms(lab, opts.vms, work / "xml")
    rng = random.Random(opts.seed)
    with connect(lab.zookeeper.hosts) as client:
        store = ClusterStore.open(client, up.CLUSTER_ROOT)
        world = World(lab_dir, store, lab.masters[0].config_dir, names, store.config().record.fence_grace)
        wait_until("every VM running", lambda: len(homes(lab_dir)) == len(names), 60, every=0.2)
        with Watcher(lab_dir, store) as watch:
            for k in range(opts.steps):
                kind = rng.choice(opts.faults)
                result["steps"].append(one(world, watch, 2 * k, kind, lambda kind=kind: FAULTS[kind](world, rng)))
                result["steps"].append(one(world, watch, 2 * k + 1, "repair", lambda: repair(world)))
                if result["steps"][-1]["error"]:
                    result["errors"]["repair"] = result["steps"][-1]["error"]
                    return  # the lab is not whole again: the next fault would test nothing
            result["watch_samples"], result["watch_missed"] = watch.samples, watch.missed
            result["watch_transients"] = [asdict(t) for t in list(watch.transients)[:50]]
    result["boots"] = count_boots(lab_dir, names, result["steps"], opts.boot_wait)


def count_boots(lab_dir: Path, names: list[str], steps: list[dict[str, Any]], wait: float) -> dict[str, Any]:
    """Each guest's boots (its serial console's GUEST-UP lines) against its starts, once every
    guest has booted as often as it was started or ``wait`` seconds passed. More boots than
    starts is a violation; fewer is not (a TCG guest boots slowly on a loaded machine, and a
    later fault may kill it before it is up), so the check bounds starts from above only."""
    expected = Counter(names) + Counter(vm for s in steps for vm in s["started"])

    def boots() -> dict[str, int]:
        return {vm: ticks(lab_dir, vm)[0] if (lab_dir / "console" / f"{vm}.log").exists() else 0 for vm in names}
    try:
        wait_until("every guest booted", lambda: all(n >= expected[vm] for vm, n in boots().items()), wait, every=1.0)
    except RuntimeError:
        pass  # fewer boots than starts: reported, not a violation
    seen = boots()
    return {"expected": dict(expected), "seen": seen, "fewer_boots": sorted(vm for vm in names if seen[vm] < expected[vm]),
            "violations": [str(v) for v in extra_boots(expected, seen)]}


def run(opts: ChaosOptions, work: Path, result: dict[str, Any]) -> None:
    lab_dir = work / "lab"
    print(f"bench chaos: lab {lab_dir}", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    up = pvc("lab", "up", "--dir", str(lab_dir), "--nodes", "3", "--masters", "2", "--zk", "3", "--vms", "0")
    result["lab"] = {"up_s": round(time.monotonic() - t0, 1), "nodes": 3, "masters": 2, "zookeeper": 3}
    try:
        if up.returncode != 0:
            raise RuntimeError(f"pvc lab up: exit {up.returncode}: {(up.stderr or up.stdout)[-800:]}")
        chaos(opts, lab_dir, work, result)
    except Exception as exc:  # noqa: BLE001 - recorded; the lab still goes down
        traceback.print_exc()
        result["errors"]["run"] = f"{type(exc).__name__}: {exc}"
    finally:
        down = pvc("lab", "down", "--dir", str(lab_dir), timeout=180)
        result["lab"]["down"] = (down.stdout.strip().splitlines() or [""])[-1]
        if down.returncode != 0:
            result["errors"]["lab down"] = (down.stderr or down.stdout)[-600:]


def _faults(text: str) -> tuple[str, ...]:
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    unknown = [n for n in names if n not in FAULTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"--faults: a comma-separated list of {', '.join(FAULTS)}"
                                         + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    return names


def parse_args(argv: list[str]) -> tuple[ChaosOptions, argparse.Namespace]:
    p = argparse.ArgumentParser(prog="python -m bench chaos", description=__doc__.split("\n\n")[0],
                                epilog="faults: " + ", ".join(FAULTS))
    p.add_argument("--seed", type=int, required=True, help="fixes the faults drawn and their victims")
    p.add_argument("--steps", type=int, required=True, help=f"faults to inflict, each followed by a repair (1..{MAX_STEPS})")
    p.add_argument("--vms", type=int, default=6, help="guests, round-robin over the 3 nodes (default 6)")
    p.add_argument("--faults", type=_faults, default=tuple(FAULTS), help="the faults to draw from (default all)")
    p.add_argument("--boot-wait", type=float, default=60.0,
                   help="at the end, how long to wait for every guest's boots to be counted (default 60 s)")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where the JSON and PNG go")
    p.add_argument("--keep", action="store_true", help="keep the work directory (lab logs, consoles) after lab down")
    args = p.parse_args(argv)
    if not 1 <= args.steps <= MAX_STEPS or not 1 <= args.vms <= 30 or not 0 <= args.boot_wait <= 600:
        p.error(f"--steps must be 1..{MAX_STEPS}, --vms 1..30 and --boot-wait 0..600")
    return ChaosOptions(args.seed, args.steps, args.vms, args.faults, args.boot_wait), args


def main(argv: list[str]) -> int:
    opts, args = parse_args(argv)
    date = datetime.now().strftime("%Y-%m-%dT%H%M%S")
    result: dict[str, Any] = {"date": date, "seed": opts.seed, "options": asdict(opts), "host": host_facts(),
                              "steps": [], "errors": {}}
    work = Path(tempfile.mkdtemp(prefix="pvc-bench-chaos-"))
    try:
        run(opts, work, result)
    finally:
        if args.keep:
            print(f"bench chaos: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["host"]["loadavg_end"] = list(os.getloadavg())
    result["summary"] = summarise(result["steps"], result.get("boots", {}).get("violations", []))
    save(args.out_dir, "chaos", date, result, plot, markdown(result))
    return 1 if result["errors"] or result["summary"]["violations"] or result["summary"]["failed_steps"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
