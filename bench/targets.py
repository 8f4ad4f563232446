"""The targets of issue 3, checked against one run.

A target compares pvc with Salt (an *advantage*: Salt's time / pvc's time, pvc's rate / Salt's
rate, Salt's memory / pvc's memory) and/or bounds pvc's own value. Where a metric counts
complete answers (every minion returned the expected value), pvc must be complete in every run:
a fast but partial answer does not pass.

Example::

    for t in evaluate(results):
        print(t.name, t.passed)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.results import Results

REF_N = 50


@dataclass(frozen=True)
class Target:
    name: str
    metric: str
    key: str
    lower_is_better: bool
    advantage: float | None = None  # pvc must be at least this many times better than Salt
    bound: float | None = None  # pvc's value must be below (lower is better) / above this
    size: str = "ref"  # "ref": N=50 (or the largest N run), "one": N=1, "version", "scale"


TARGETS = (
    Target("test.ping via API, {n} minions: >= 20x faster than Salt (median)", "ping_api", "median", True, 20.0),
    Target("test.ping via API, {n} minions: under 100 ms (median)", "ping_api", "median", True, bound=100.0),
    Target("test.ping via CLI process, {n} minions: >= 5x faster than Salt (median)", "ping_cli", "median", True, 5.0),
    Target("pvc --version under 150 ms (median)", "version_cli", "median", True, bound=150.0, size="version"),
    Target("jobs/s to one minion, pipelined: >= 2000/s", "jobs_pipelined", "per_s", False, bound=2000.0, size="one"),
    Target("jobs/s to one minion, sequential: >= 300/s", "jobs_sequential", "per_s", False, bound=300.0, size="one"),
    Target("start of {n} minions until all answer: >= 5x faster than Salt", "startup", "seconds", True, 5.0),
    Target("idle minion RSS <= 1/4 of Salt's", "minion_memory", "rss_mib", True, 4.0),
    Target("master RSS <= 1/5 of Salt's", "master_memory", "rss_mib", True, 5.0),
    Target("1 MiB test.echo: full value back, under 100 ms (median)", "echo_1mib", "median", True, bound=100.0),
    Target("1,000 minions answer test.ping in under 1 s (median of 5)", "ping_api", "median", True, bound=1000.0,
           size="scale"),
)


@dataclass(frozen=True)
class Outcome:
    name: str
    n: int | None
    pvc: float | None
    salt: float | None
    advantage: float | None
    passed: bool
    note: str = ""


def reference_size(results: Results) -> int | None:
    both = set(results.sizes("pvc")) & set(results.sizes("salt"))
    if REF_N in both:
        return REF_N
    return max(both) if both else (max(results.sizes()) if results.sizes() else None)


def _values(results: Results, t: Target, n: int | None) -> tuple[float | None, float | None, bool]:
    """pvc's value, Salt's value, and whether every pvc run was complete."""
    if t.size == "version":
        return (results.version_cli.get("pvc", {}).get(t.key), results.version_cli.get("salt", {}).get(t.key), True)
    if t.size == "scale":
        complete = results.scale_value(t.metric, "complete_runs") == results.scale_value(t.metric, "runs")
        return results.scale_value(t.metric, t.key), None, complete
    if n is None:
        return None, None, False
    runs = results.value("pvc", n, t.metric, "runs")
    complete = runs is None or results.value("pvc", n, t.metric, "complete_runs") == runs
    return results.value("pvc", n, t.metric, t.key), results.value("salt", n, t.metric, t.key), complete


def check(results: Results, t: Target) -> Outcome:
    n = {"ref": reference_size(results), "one": 1 if 1 in results.sizes("pvc") else reference_size(results)}.get(t.size)
    if t.size == "scale":
        n = int(results.scale.get("minions", 0)) or None
    pvc, salt, complete = _values(results, t, n)
    name = t.name.format(n=n)
    if pvc is None:
        return Outcome(name, n, None, salt, None, False, "not measured")
    advantage = None
    if salt is not None and pvc > 0:
        advantage = salt / pvc if t.lower_is_better else pvc / salt
    notes = []
    passed = complete
    if not complete:
        notes.append("pvc runs incomplete")
    if t.advantage is not None:
        if advantage is None:
            passed = False
            notes.append("no Salt value")
        elif advantage < t.advantage:
            passed = False
    if t.bound is not None and (pvc >= t.bound if t.lower_is_better else pvc < t.bound):
        passed = False
    return Outcome(name, n, pvc, salt, advantage, passed, "; ".join(notes))


def evaluate(results: Results) -> list[Outcome]:
    return [check(results, t) for t in TARGETS]


def as_records(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    return [asdict(o) for o in outcomes]
