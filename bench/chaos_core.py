"""``python -m bench chaos-core``: a seeded chaos run that proves no job and no return is lost.

A real master and ``--minions`` minions on 127.0.0.1 (:class:`tests.cluster.pvc.PvcCluster`).
For ``--minutes`` the main thread publishes a seeded mix of async jobs (``stream=False``) and
sync jobs (``Client.run``) of ``test.sleep``/``test.ping``/``test.echo`` to ``*`` and to random
lists of minions, while a fault thread SIGKILLs or SIGSTOPs the master or a random minion,
SIGCONTs stopped ones after a short while and restarts killed ones after 0.5–5 s (once, if the
run is long enough, the master stays down longer than the minions' old resend budget).

Every jid the master answered with goes into a ledger (a publish that fails because the master
is down is retried later and not counted). At the end everything down is restarted, the job
cache is polled until it settles (bounded), and every job — those of the ledger and any other
job the cache holds — must have, for every targeted minion, one stored return or a stated
reason in ``missing``. Then the cluster is stopped and each minion's spool is read: a return
still there and not in the cache was never delivered. Anything lost makes the exit code 1.

The seed fixes the choices (what to publish, what to hit, how long to wait); the timing of a
real cluster on a shared machine is not reproducible to the millisecond, so a seed reproduces
the scenario, and usually the failure.

Examples::

    python -m bench chaos-core --seed 7 --minutes 2
    python -m bench chaos-core --seed 1 --seconds 30 --minions 4 --out-dir /tmp/chaos   # CI
    python -m bench chaos-core --seed 3 --minutes 10 --master-outage 75                 # long outage
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.results import host_facts
from pvc.client import Client
from pvc.errors import JobNotFound, MasterUnreachable, PvcError
from pvc.minion.spool import Spool
from pvc.results import STILL_RUNNING
from pvc.wire.codec import unpack
from pvc.wire.inner import UP, Ret
from pvc.wire.local import JobView
from tests.cluster.pvc import PvcCluster

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MASTER = "master"


@dataclass(frozen=True)
class ChaosOptions:
    seed: int
    seconds: float
    minions: int = 10
    restart_min: float = 0.5        # a killed process is restarted after this many seconds ...
    restart_max: float = 5.0        # ... up to this many
    fault_min: float = 1.0          # seconds between two faults, drawn in [fault_min, fault_max]
    fault_max: float = 5.0
    master_outage: float = 70.0     # one long master outage when the run has room for it (0: never)
    drain: float = 90.0             # at most this long waiting for the job cache to settle
    quiet: float = 10.0             # ... which it has when nothing changed for this long


# -- faults -----------------------------------------------------------------------------------
class Faults(threading.Thread):
    """Kills, stops, resumes and restarts processes of ``cluster`` at seeded random times.

    The only thread that touches the cluster's processes while the run lasts; ``heal`` (after
    ``halt``) brings every process back up."""

    def __init__(self, cluster: PvcCluster, opts: ChaosOptions, rng: random.Random, until: float) -> None:
        super().__init__(name="chaos-faults", daemon=True)
        self.cluster, self.opts, self.rng, self.until = cluster, opts, rng, until
        self.t0 = time.monotonic()
        self.down: dict[str, float] = {}     # name -> when to restart it
        self.stopped: dict[str, float] = {}  # name -> when to SIGCONT it
        self.counts: dict[str, Counter[str]] = {}
        self.log: list[tuple[float, str, str, float]] = []  # (t, process, action, delay)
        self.long_outage_done = False
        self.error = ""
        self.crashes: list[str] = []
        self._halt = threading.Event()

    def halt(self) -> None:
        self._halt.set()
        self.join(30)

    def run(self) -> None:
        try:
            next_fault = time.monotonic() + self.rng.uniform(self.opts.fault_min, self.opts.fault_max)
            while not self._halt.wait(0.05):
                now = time.monotonic()
                self._due(now)
                if now >= next_fault and now < self.until:
                    self._fault(now)
                    next_fault = now + self.rng.uniform(self.opts.fault_min, self.opts.fault_max)
        except (OSError, subprocess.SubprocessError, KeyError) as exc:  # end the run with a reason, not hang
            self.error = f"{type(exc).__name__}: {exc}"

    def _note(self, name: str, action: str, delay: float = 0.0) -> None:
        self.counts.setdefault(name, Counter())[action] += 1
        self.log.append((round(time.monotonic() - self.t0, 3), name, action, round(delay, 3)))
        print(f"chaos: t={time.monotonic() - self.t0:7.2f}s {action:8s} {name}"
              + (f" for {delay:.1f}s" if delay else ""), file=sys.stderr, flush=True)

    def _key(self, name: str) -> str:
        return MASTER if name == MASTER else f"minion-{name}"

    def _fault(self, now: float) -> None:
        up = [n for n in [MASTER, *self.cluster.minion_ids] if n not in self.down and n not in self.stopped]
        if not up:
            return
        name = MASTER if MASTER in up and self.rng.random() < 0.25 else self.rng.choice(up)
        proc = self.cluster.procs[self._key(name)]
        if self.rng.random() < 0.55:
            delay = self.rng.uniform(self.opts.restart_min, self.opts.restart_max)
            if name == MASTER and self._long_outage_fits(now) and self.rng.random() < 0.3:
                delay, self.long_outage_done = self.opts.master_outage, True
            proc.kill()
            proc.wait(10)
            del self.cluster.procs[self._key(name)]
            self.down[name] = now + delay
            self._note(name, "kill", delay)
        else:
            delay = self.rng.uniform(0.2, 3.0)
            os.kill(proc.pid, signal.SIGSTOP)
            self.stopped[name] = now + delay
            self._note(name, "stop", delay)

    def _long_outage_fits(self, now: float) -> bool:
        return (self.opts.master_outage > 0 and not self.long_outage_done
                and now + self.opts.master_outage + 15 < self.until)

    def _due(self, now: float) -> None:
        for name in [MASTER, *self.cluster.minion_ids]:
            proc = self.cluster.procs.get(self._key(name))
            if proc is not None and name not in self.down and proc.poll() is not None:
                del self.cluster.procs[self._key(name)]  # it ended by itself: a crash to report
                self.crashes.append(f"{name} exited with {proc.returncode} at t={now - self.t0:.1f}s")
                self._note(name, "crashed")
                self.stopped.pop(name, None)
                self.down[name] = now + self.opts.restart_min
        for name, at in list(self.stopped.items()):
            if at <= now:
                self._resume(name)
        for name, at in list(self.down.items()):
            if at <= now:
                self._restart(name)

    def _resume(self, name: str) -> None:
        del self.stopped[name]
        os.kill(self.cluster.procs[self._key(name)].pid, signal.SIGCONT)
        self._note(name, "cont")

    def _restart(self, name: str) -> None:
        del self.down[name]
        if name == MASTER:
            self.cluster.start_master(wait=False)
        else:
            self.cluster.start_minion(name)
        self._note(name, "restart")

    def heal(self) -> None:
        """SIGCONT everything stopped, start everything down (after :meth:`halt`)."""
        for name in list(self.stopped):
            self._resume(name)
        for name in list(self.down):
            self._restart(name)


# -- jobs -------------------------------------------------------------------------------------
@dataclass
class Ledger:
    """Every job the master acknowledged: jid -> (fun, args, expected minions, sync?)."""

    jobs: dict[str, tuple[str, list[Any], list[str], bool]] = field(default_factory=dict)
    streamed: dict[str, set[str]] = field(default_factory=dict)  # sync jobs: minions the client saw
    refused: Counter[str] = field(default_factory=Counter)        # publishes that failed, by error


def _pick(rng: random.Random, mids: list[str]) -> tuple[bool, str | list[str], str, list[Any], float]:
    sync = rng.random() < 0.3
    tgt: str | list[str] = "*" if rng.random() < 0.4 else sorted(rng.sample(mids, rng.randint(1, len(mids))))
    kind = rng.random()
    args: list[Any]
    if kind < 0.45:
        fun, args = "test.sleep", [round(rng.uniform(0.05, 1.0 if sync else 2.0), 3)]
    elif kind < 0.75:
        fun, args = "test.ping", []
    else:
        fun, args = "test.echo", [f"chaos-{rng.getrandbits(48):012x}"]
    timeout = rng.uniform(2.0, 4.0) if sync else rng.uniform(3.0, 8.0)
    return sync, tgt, fun, args, round(timeout, 2)


def drive(cluster: PvcCluster, rng: random.Random, until: float, ledger: Ledger) -> None:
    """Publish jobs until ``until``; a master that does not answer means a fresh client later."""
    client: Client | None = None
    while time.monotonic() < until:
        if client is None:
            try:
                client = Client(str(cluster.master_dir), connect_timeout=2.0)
            except MasterUnreachable:
                time.sleep(0.2)
                continue
        sync, tgt, fun, args, timeout = _pick(rng, cluster.minion_ids)
        try:
            if sync:
                stream = client.iter_run(tgt, fun, args, timeout=timeout)
                ledger.jobs[stream.result.jid] = (fun, args, list(stream.result.minions), True)
                ledger.streamed[stream.result.jid] = {mid for mid, _ in stream}
            else:
                pub = client.publish(tgt, fun, args, timeout=timeout, stream=False)
                ledger.jobs[pub.jid] = (fun, args, list(pub.minions), False)
        except PvcError as exc:  # master down or stopped: not counted, try again later
            ledger.refused[type(exc).__name__] += 1
            client.close()
            client = None
            time.sleep(0.2)
            continue
        time.sleep(rng.uniform(0.0, 0.3))
    if client is not None:
        client.close()


# -- checking ---------------------------------------------------------------------------------
def read_jobs(client: Client, ledger: Ledger) -> dict[str, JobView | None]:
    """Every job of the ledger, and every other job the cache holds (published by a request
    whose reply we never saw): None for a ledger job the cache does not know."""
    jids = set(ledger.jobs) | {s.jid for s in client.jobs(limit=10_000, fun=None)}
    views: dict[str, JobView | None] = {}
    for jid in sorted(jids):
        try:
            views[jid] = client.job(jid)
        except JobNotFound:
            views[jid] = None
    return views


def _unsettled(view: JobView | None) -> int:
    """Targeted minions with neither a stored return nor a final reason."""
    if view is None:
        return 0
    return sum(1 for mid in view.minions
               if mid not in view.returns and view.missing.get(mid, STILL_RUNNING) == STILL_RUNNING)


def drain(cluster: PvcCluster, ledger: Ledger, opts: ChaosOptions) -> tuple[dict[str, JobView | None], float]:
    """Poll the cache until nothing is unsettled and nothing changed for ``quiet`` seconds,
    at most ``drain`` seconds. Returns the last views and the time it took."""
    t0 = time.monotonic()
    deadline, last, since = t0 + opts.drain, None, t0
    views: dict[str, JobView | None] = {}
    while True:
        try:
            with Client(str(cluster.master_dir), connect_timeout=10.0) as client:
                views = read_jobs(client, ledger)
        except MasterUnreachable:
            if time.monotonic() >= deadline:
                raise
            time.sleep(1.0)
            continue
        state = (sum(len(v.returns) for v in views.values() if v), sum(map(_unsettled, views.values())),
                  sum(len(v.missing) for v in views.values() if v))
        now = time.monotonic()
        if state != last:
            last, since = state, now
            print(f"chaos: drain t={now - t0:5.1f}s returns={state[0]} unsettled={state[1]} "
                  f"missing={state[2]}", file=sys.stderr, flush=True)
        if (state[1] == 0 and now - since >= opts.quiet) or now >= deadline:
            return views, now - t0
        time.sleep(2.0)


def check(views: dict[str, JobView | None], ledger: Ledger) -> dict[str, Any]:
    lost: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    returns = failed = 0
    slowest = (0.0, "", "")
    for jid, view in views.items():
        expected = ledger.jobs[jid][2] if jid in ledger.jobs else []
        if view is None:
            lost += [{"jid": jid, "minion": m, "why": "job not in the cache"} for m in expected]
            continue
        if jid in ledger.jobs and sorted(expected) != sorted(view.minions):
            lost.append({"jid": jid, "minion": "", "why": f"cache targets {view.minions}, publish said {expected}"})
        for mid in set(view.returns) - set(view.minions):
            lost.append({"jid": jid, "minion": mid, "why": "return stored from a minion the job did not target"})
        for mid in sorted(ledger.streamed.get(jid, set()) - set(view.returns)):
            lost.append({"jid": jid, "minion": mid, "why": "streamed to the client but not in the cache"})
        for mid in view.minions:
            if mid in view.returns:
                stored = view.returns[mid]
                ret = stored.ret.value()
                returns += 1
                failed += not ret.ok
                if ret.ok and view.fun == "test.echo" and ret.data != view.args[0]:
                    lost.append({"jid": jid, "minion": mid, "why": f"echo returned {ret.data!r}"})
                slowest = max(slowest, (stored.received - view.started, jid, mid))
            elif view.missing.get(mid, STILL_RUNNING) != STILL_RUNNING:
                reasons[view.missing[mid]] += 1
            else:
                why = "still running at the end" if mid in view.running or mid in view.missing else "no return, no reason"
                lost.append({"jid": jid, "minion": mid, "why": why})
    return {"jobs": len(views), "ledger_jobs": len(ledger.jobs), "unledgered_jobs": len(set(views) - set(ledger.jobs)),
            "sync_jobs": sum(1 for j in ledger.jobs.values() if j[3]), "returns": returns, "failed_returns": failed,
            "missing_reasons": dict(reasons), "max_publish_to_stored_s": round(slowest[0], 3),
            "slowest": {"jid": slowest[1], "minion": slowest[2]}, "lost": lost}


def spool_leftovers(cluster: PvcCluster, views: dict[str, JobView | None]) -> list[dict[str, Any]]:
    """After the cluster stopped: returns still in a minion's spool. One whose job has no
    stored return from that minion was never delivered (its ``timed out`` hid a loss)."""
    out = []
    for mid in cluster.minion_ids:
        path = cluster.minion_dir(mid) / "root" / "cache" / "minion" / "spool" / f"{mid}.log"
        if not path.exists():
            continue
        with Spool(str(path)) as spool:
            pending, interrupted = spool.pending(), spool.interrupted()
        for jid, payload in pending:
            rec = UP.decode(unpack(payload))
            view = views.get(jid)
            stored = view is not None and mid in view.returns
            out.append({"jid": jid, "minion": mid, "kind": "return" if isinstance(rec, Ret) else "lost-report",
                        "stored": stored})
        out += [{"jid": jid, "minion": mid, "kind": f"started {fun}, never finished", "stored": False}
                for jid, fun in interrupted]
    return out


# -- the run ----------------------------------------------------------------------------------
def run(opts: ChaosOptions, work: Path) -> dict[str, Any]:
    master_rng = random.Random(opts.seed)
    fault_rng, job_rng = random.Random(master_rng.random()), random.Random(master_rng.random())
    ledger = Ledger()
    with PvcCluster(work, auto_accept=True) as cluster:
        cluster.start_master()
        ids = [f"m{i:02d}" for i in range(1, opts.minions + 1)]
        for mid in ids:
            cluster.add_minion(mid)
        cluster.wait_connected(ids, timeout=60)
        cluster.drop_client()
        t0 = time.monotonic()
        until = t0 + opts.seconds
        faults = Faults(cluster, opts, fault_rng, until)
        faults.start()
        try:
            drive(cluster, job_rng, until, ledger)
        finally:
            faults.halt()
            faults.heal()
        chaos_s = time.monotonic() - t0
        cluster.wait_master(30)
        cluster.wait_connected(ids, timeout=60)
        cluster.drop_client()
        views, drain_s = drain(cluster, ledger, opts)
        verdict = check(views, ledger)
    leftovers = spool_leftovers(cluster, views)
    verdict["lost"] += [{"jid": s["jid"], "minion": s["minion"], "why": "return left in the minion's spool"}
                        for s in leftovers if s["kind"] == "return" and not s["stored"]]
    return {**verdict, "chaos_s": round(chaos_s, 1), "drain_s": round(drain_s, 1),
            "publish_failures": dict(ledger.refused), "spool_leftovers": leftovers,
            "faults": {n: dict(c) for n, c in sorted(faults.counts.items())},
            "fault_error": faults.error, "crashes": faults.crashes, "fault_log": faults.log}


def summary(res: dict[str, Any]) -> str:
    kills = sum(c.get("kill", 0) for c in res["faults"].values())
    stops = sum(c.get("stop", 0) for c in res["faults"].values())
    restarts = sum(c.get("restart", 0) for c in res["faults"].values())
    lines = [f"chaos-core seed {res['seed']}: {res['chaos_s']}s of chaos, {res['drain_s']}s drain",
             (f"  jobs {res['jobs']} (ledger {res['ledger_jobs']}, sync {res['sync_jobs']}, "
              f"not in ledger {res['unledgered_jobs']}); publishes refused while down: {res['publish_failures']}"),
             (f"  returns stored {res['returns']} (failed {res['failed_returns']}); "
              f"missing with a reason: {res['missing_reasons']}"),
             f"  faults: {kills} kills, {stops} stops, {restarts} restarts",
             *(f"    {name:8s} {dict(c)}" for name, c in res["faults"].items()),
             (f"  max publish -> stored return: {res['max_publish_to_stored_s']}s "
              f"({res['slowest']['jid']} {res['slowest']['minion']})"),
             f"  spool leftovers after stop: {len(res['spool_leftovers'])}",
             f"  LOST: {len(res['lost'])}"]
    lines += [f"    {x['jid']} {x['minion']}: {x['why']}" for x in res["lost"][:30]]
    lines += [f"  CRASH: {c}" for c in res["crashes"]]
    if res["fault_error"]:
        lines.append(f"  fault thread failed: {res['fault_error']}")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> tuple[ChaosOptions, argparse.Namespace]:
    p = argparse.ArgumentParser(prog="python -m bench chaos-core", description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, required=True)
    length = p.add_mutually_exclusive_group(required=True)
    length.add_argument("--minutes", type=float)
    length.add_argument("--seconds", type=float)
    p.add_argument("--minions", type=int, default=10)
    p.add_argument("--restart-min", type=float, default=0.5)
    p.add_argument("--restart-max", type=float, default=5.0)
    p.add_argument("--master-outage", type=float, default=70.0,
                   help="one long master outage (s) when the run has room for it; 0 for never (default 70)")
    p.add_argument("--drain", type=float, default=90.0, help="max seconds waiting for the cache to settle")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, spools, cache)")
    args = p.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    if not 0 < seconds <= 24 * 3600 or not 1 <= args.minions <= 100:
        p.error("the run must last 0..24 h and --minions must be 1..100")
    if not 0 <= args.restart_min <= args.restart_max or args.drain <= 0:
        p.error("need 0 <= --restart-min <= --restart-max and --drain > 0")
    opts = ChaosOptions(args.seed, seconds, args.minions, args.restart_min, args.restart_max,
                        master_outage=args.master_outage, drain=args.drain)
    return opts, args


def main(argv: list[str]) -> int:
    opts, args = parse_args(argv)
    date = datetime.now().strftime("%Y-%m-%dT%H%M%S")
    work = Path(tempfile.mkdtemp(prefix="pvc-chaos-"))
    res: dict[str, Any] = {"date": date, "seed": opts.seed, "options": asdict(opts), "host": host_facts()}
    try:
        res.update(run(opts, work))
    finally:
        if args.keep:
            print(f"chaos: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    res["host"]["loadavg_end"] = list(os.getloadavg())
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"chaos-core-{date}.json"
    out.write_text(json.dumps(res, indent=1, default=str) + "\n")
    print(summary(res))
    print(f"\nwrote {out}", file=sys.stderr)
    return 1 if res["lost"] or res["crashes"] or res["fault_error"] else 0
