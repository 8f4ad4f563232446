"""The markdown summary printed at the end of a run: every metric per size, then the targets.

The "pvc ×" column is pvc's advantage over Salt: how many times faster (Salt's time / pvc's
time), how many times the throughput, or how many times less memory.

:func:`cluster_markdown` and :func:`cluster_targets` do the same for ``python -m bench cluster``
(pvc beside PVC's published figures and issue 9's targets).

Example::

    print(markdown(results, evaluate(results)))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


# -- python -m bench cluster (issue 9) -------------------------------------------------------

PVC_FLUSH_S_PER_VM = 120.0       # PVC: serial flush, each VM waited for up to 120 s
PVC_PRIMARY_S = (65.0, 75.0)     # PVC: a lost primary coordinator is replaced after 65-75 s
TARGET_PRIMARY_S = 5.0
TARGET_FLUSH_S = 10.0            # for 10 VMs
SALT_MINION_SHARE = 0.25         # issue 3: idle plain minion <= 1/4 of Salt's


def cluster_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """PASS/FAIL records of a cluster run; a part that was not measured fails with its reason."""
    errors = result.get("errors", {})
    out: list[dict[str, Any]] = []
    primary = result.get("primary") if isinstance(result.get("primary"), dict) else None
    value = primary["acting_median_s"] if primary else None
    out.append({"target": f"new primary recorded and acting < {TARGET_PRIMARY_S:g} s (median)", "value": value,
                "pass": value is not None and value < TARGET_PRIMARY_S, "note": errors.get("primary", "")})
    flush = result["flush"] if isinstance(result.get("flush"), list) else []
    vms = result.get("options", {}).get("vms")
    for run in flush:
        f = run["flush"]
        out.append({"target": f"flush of {vms} VMs, parallel {run['parallel']}: < {TARGET_FLUSH_S:g} s, zero downtime",
                    "value": f["cli_wall_s"], "pass": f["cli_wall_s"] < TARGET_FLUSH_S and bool(f.get("zero_downtime")),
                    "note": "" if f.get("zero_downtime") else "downtime evidence failed"})
    if not flush:
        out.append({"target": f"flush of {vms} VMs < {TARGET_FLUSH_S:g} s, zero downtime", "value": None,
                    "pass": False, "note": errors.get("flush", errors.get("define", "not measured"))})
    mem = result.get("memory") if isinstance(result.get("memory"), dict) else None
    salt = (mem or {}).get("salt_minion")
    if mem and salt:
        share = mem["plain_minion_rss_mib"] / salt["rss_mib"]
        out.append({"target": "idle plain minion RSS <= 1/4 of Salt's", "value": round(share, 3),
                    "pass": share <= SALT_MINION_SHARE, "note": f"Salt from {salt['source']}"})
    return out


def _s(value: Any, fmt: str = "{:.2f}") -> str:
    return "–" if value is None else fmt.format(value)


def cluster_markdown(result: dict[str, Any]) -> str:
    """The table of a cluster run: pvc beside PVC's published figures and the targets."""
    lab, vms = result.get("lab", {}), result.get("options", {}).get("vms")
    lines = [(f"## pvc cluster — {result['date']}, {result['host'].get('cpus')} CPUs, load "
             f"{result['host'].get('loadavg_start')} → {result['host'].get('loadavg_end')}; lab "
             f"{lab.get('nodes')} nodes, {lab.get('masters')} masters, {lab.get('zookeeper')} ZooKeeper "
             f"(up in {_s(lab.get('up_s'), '{:.1f}')} s)"), "",
             "| measure | pvc | PVC (published) | target |", "|---|---:|---:|---:|"]
    primary = result.get("primary") if isinstance(result.get("primary"), dict) else None
    if primary:
        lines.append(f"| new primary recorded in ZooKeeper, median of {len(primary['runs'])} (s) | "
                     f"{_s(primary['recorded_median_s'])} | {PVC_PRIMARY_S[0]:g}–{PVC_PRIMARY_S[1]:g} | "
                     f"< {TARGET_PRIMARY_S:g} |")
        lines.append(f"| new primary acting (no-op request done), median / max (s) | {_s(primary['acting_median_s'])} / "
                     f"{_s(primary['acting_max_s'])} | {PVC_PRIMARY_S[0]:g}–{PVC_PRIMARY_S[1]:g} | < {TARGET_PRIMARY_S:g} |")
    flush = result["flush"] if isinstance(result.get("flush"), list) else []
    for run in flush:
        for verb in ("flush", "ready"):
            r = run[verb]
            pvc_ref = f"serial, ≤ {PVC_FLUSH_S_PER_VM * r['vms']:g}"
            target = f"< {TARGET_FLUSH_S:g}" if verb == "flush" else "–"
            lines.append(f"| {verb} {r['vms']} VMs, parallel {run['parallel']}: command / request (s) | "
                         f"{_s(r['cli_wall_s'])} / {_s(r['seconds'])} | {pvc_ref} | {target} |")
    mem = result.get("memory") if isinstance(result.get("memory"), dict) else None
    if mem:
        salt = mem.get("salt_minion")
        salt_text = (f"Salt: {salt['rss_mib']:.1f} ({salt.get('processes')} processes; {salt['source']})"
                     if salt else "Salt: – (no results file)")
        lines.append(f"| idle plain minion RSS, `pvc minion` (MiB) | {mem['plain_minion_rss_mib']:.1f} | {salt_text} | "
                     f"≤ ¼ of Salt's |")
        if salt and salt.get("pvc_bench_minion_rss_mib") is not None:
            lines.append(f"| idle plain minion RSS in that Salt run's file (MiB) | {salt['pvc_bench_minion_rss_mib']:.1f} | "
                         f"Salt: {salt['rss_mib']:.1f} | ≤ ¼ of Salt's |")
        lines.append(f"| idle hypervisor minion RSS (MiB, median of nodes) | {mem['hypervisor_minion_rss_mib']:.1f} | "
                     "– | reported |")
    if flush:
        lines += ["", f"### Zero-downtime evidence ({vms} VMs per run)", "",
                  ("| run | steps live+done | QEMU downtime max / median (ms) | restarted | tick gaps | stalled | "
                  "not running | zero downtime |"), "|---|---:|---:|---|---|---|---|---|"]
        for run in flush:
            for verb in ("flush", "ready"):
                r = run[verb]
                lines.append(f"| {verb} p{run['parallel']} | {r['steps_done_live']}/{r['vms']} | "
                             f"{_s(r['downtime_ms_max'], '{:.0f}')} / {_s(r['downtime_ms_median'], '{:.0f}')} | "
                             f"{', '.join(r['restarted']) or 'none'} | {', '.join(r['tick_gaps']) or 'none'} | "
                             f"{', '.join(r['stalled']) or 'none'} | {', '.join(r['not_running']) or 'none'} | "
                             f"{'yes' if r.get('zero_downtime') else 'NO'} |")
    lines += ["", "### Targets (issue 9)", "", "| target | pvc | result |", "|---|---:|---|"]
    for t in result.get("targets", []):
        verdict = "PASS" if t["pass"] else "FAIL" + (f" ({t['note']})" if t.get("note") else "")
        lines.append(f"| {t['target']} | {_s(t['value'], '{:.4g}')} | {verdict} |")
    if result.get("errors"):
        lines += ["", "### Errors", "", *(f"- {k}: {v}" for k, v in result["errors"].items())]
    return "\n".join(lines)
