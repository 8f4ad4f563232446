"""The markdown summary printed at the end of a run: every metric per size, then the targets.

The "pvc ×" column is pvc's advantage over Salt: how many times faster (Salt's time / pvc's
time), how many times the throughput, or how many times less memory.

Example::

    print(markdown(results, evaluate(results)))
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.results import Results
from bench.targets import Outcome


@dataclass(frozen=True)
class Row:
    label: str
    metric: str
    key: str
    lower_is_better: bool | None  # None: a fact, not a race (no "pvc ×")
    fmt: str = "{:.1f}"


ROWS = (
    Row("start until all answer (s)", "startup", "seconds", True, "{:.2f}"),
    Row("test.ping API median (ms)", "ping_api", "median", True),
    Row("test.ping API p95 (ms)", "ping_api", "p95", True),
    Row("test.ping CLI median (ms)", "ping_cli", "median", True),
    Row("test.ping CLI p95 (ms)", "ping_cli", "p95", True),
    Row("cmd.run true median (ms)", "cmd_run_true", "median", True),
    Row("1 MiB test.echo median (ms)", "echo_1mib", "median", True),
    Row("1 MiB test.echo via bus median (ms)", "echo_1mib_bus", "median", True),
    Row("1 MiB test.echo: characters returned", "echo_1mib", "sample.len", None, "{:.0f}"),
    Row("jobs/s sequential (one minion)", "jobs_sequential", "per_s", False, "{:.0f}"),
    Row("jobs/s pipelined (one minion)", "jobs_pipelined", "per_s", False, "{:.0f}"),
    Row("master RSS (MiB)", "master_memory", "rss_mib", True),
    Row("master PSS (MiB)", "master_memory", "pss_mib", True),
    Row("master processes", "master_memory", "processes", True, "{:.0f}"),
    Row("idle minion RSS (MiB)", "minion_memory", "rss_mib", True),
    Row("idle minion PSS (MiB)", "minion_memory", "pss_mib", True),
)


def _fmt(value: float | None, fmt: str = "{:.1f}") -> str:
    return "–" if value is None else fmt.format(value)


def _advantage(pvc: float | None, salt: float | None, lower_is_better: bool | None) -> str:
    if pvc is None or salt is None or pvc <= 0 or salt <= 0 or lower_is_better is None:
        return "–"
    return f"{salt / pvc if lower_is_better else pvc / salt:.1f}×"


def metrics_table(results: Results) -> list[str]:
    lines = ["| metric | N | pvc | Salt | pvc × |", "|---|---:|---:|---:|---:|"]
    for row in ROWS:
        for n in results.sizes():
            pvc = results.value("pvc", n, row.metric, row.key)
            salt = results.value("salt", n, row.metric, row.key)
            if pvc is None and salt is None:
                continue
            lines.append(f"| {row.label} | {n} | {_fmt(pvc, row.fmt)} | {_fmt(salt, row.fmt)} | "
                         f"{_advantage(pvc, salt, row.lower_is_better)} |")
    pvc_v, salt_v = (results.version_cli.get(s, {}).get("median") for s in ("pvc", "salt"))
    if pvc_v is not None or salt_v is not None:
        lines.append(f"| `--version` median (ms) | – | {_fmt(pvc_v)} | {_fmt(salt_v)} | {_advantage(pvc_v, salt_v, True)} |")
    if results.scale:
        m = int(results.scale.get("minions", 0))
        lines.append(f"| scale: start until all answer (s) | {m} | {_fmt(results.scale_value('startup', 'seconds'), '{:.2f}')} | – | – |")
        lines.append(f"| scale: test.ping API median (ms) | {m} | {_fmt(results.scale_value('ping_api', 'median'))} | – | – |")
    return lines


def targets_table(outcomes: list[Outcome]) -> list[str]:
    lines = ["| target | pvc | Salt | pvc × | result |", "|---|---:|---:|---:|---|"]
    for o in outcomes:
        verdict = "PASS" if o.passed else "FAIL" + (f" ({o.note})" if o.note else "")
        adv = "–" if o.advantage is None else f"{o.advantage:.1f}×"
        lines.append(f"| {o.name} | {_fmt(o.pvc, '{:.4g}')} | {_fmt(o.salt, '{:.4g}')} | {adv} | {verdict} |")
    return lines


def problems(results: Results) -> list[str]:
    """Failed runs and metrics, so that a missing number never goes unexplained."""
    out = [f"- {system} {where}: {msg}" for system, errs in results.errors.items() for where, msg in errs.items()]
    for system, sizes in results.runs.items():
        for n, metrics in sizes.items():
            out += [f"- {system} N={n} {name}: {m['error']}" for name, m in metrics.items()
                    if isinstance(m, dict) and "error" in m]
    for name, m in results.scale.items():
        if isinstance(m, dict) and "error" in m:
            out.append(f"- pvc scale {name}: {m['error']}")
    return out


def markdown(results: Results, outcomes: list[Outcome]) -> str:
    v = results.versions
    head = (f"## pvc {v.get('pvc', {}).get('version', '?')} vs Salt {v.get('salt', {}).get('version', '?')} "
            f"— {results.date}, {results.host.get('cpus')} CPUs, load {results.host.get('loadavg_start')} → "
            f"{results.host.get('loadavg_end')}")
    parts = [head, "", *metrics_table(results), "", "### Targets (issue 3)", "", *targets_table(outcomes)]
    issues = problems(results)
    if issues:
        parts += ["", "### Errors", "", *issues]
    return "\n".join(parts)
