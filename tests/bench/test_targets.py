"""The target checks and the markdown report, on hand-made results (no daemons)."""

from __future__ import annotations

from bench.report import markdown
from bench.results import Results
from bench.stats import percentile, summarize
from bench.targets import TARGETS, check, evaluate


def _results() -> Results:
    r = Results(date="2025-01-01T000000", options={})
    r.add_run("salt", 50, {"ping_api": {"median": 3700.0, "runs": 20, "complete_runs": 20},
                           "startup": {"seconds": 46.0}, "master_memory": {"rss_mib": 900.0}})
    r.add_run("pvc", 50, {"ping_api": {"median": 50.0, "runs": 20, "complete_runs": 20},
                          "startup": {"seconds": 20.0}, "master_memory": {"error": "gone"}})
    return r


def target(metric: str, **match: object):
    return next(t for t in TARGETS if t.metric == metric and all(getattr(t, k) == v for k, v in match.items()))


def test_advantage_and_bound() -> None:
    r = _results()
    ping = check(r, target("ping_api", advantage=20.0))
    assert ping.passed and ping.advantage == 74.0 and ping.n == 50
    assert check(r, target("ping_api", bound=100.0, size="ref")).passed
    start = check(r, target("startup"))
    assert not start.passed and round(start.advantage, 1) == 2.3


def test_incomplete_runs_fail_even_when_fast() -> None:
    r = _results()
    r.runs["pvc"]["50"]["ping_api"]["complete_runs"] = 19
    outcome = check(r, target("ping_api", advantage=20.0))
    assert not outcome.passed and "incomplete" in outcome.note


def test_unmeasured_metrics_fail_and_are_reported() -> None:
    r = _results()
    master = check(r, target("master_memory"))
    assert not master.passed and master.note == "not measured"
    text = markdown(r, evaluate(r))
    assert "pvc N=50 master_memory: gone" in text
    assert "| test.ping API median (ms) | 50 | 50.0 | 3700.0 | 74.0× |" in text


def test_stats() -> None:
    assert percentile(list(range(1, 21)), 95) == 19
    assert summarize([3.0, 1.0, 2.0]) == {"median": 2.0, "p95": 3.0, "min": 1.0, "max": 3.0, "runs": 3}
