"""The PNG of a run: latency against the number of minions, both systems, log scales.

Left: ``test.ping`` through the API and through the CLI, and ``cmd.run true`` (medians, with
the p95 as the top of an error bar), pvc's 1,000-minion scale run as a lone point. Right: start
of N minions until all answer.

Example::

    plot(results, Path("bench/results/2025-11-25T081200.png"))
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench.results import Results

SERIES = (("ping_api", "test.ping API", "o"), ("ping_cli", "test.ping CLI", "s"), ("cmd_run_true", "cmd.run true", "^"))
STYLE = {"pvc": ("tab:blue", "-"), "salt": ("tab:red", "--")}


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, start) = plt.subplots(1, 2, figsize=(12, 5))
    for system, (color, line) in STYLE.items():
        label = "pvc" if system == "pvc" else "Salt"
        for metric, name, marker in SERIES:
            points = [(n, results.value(system, n, metric, "median"), results.value(system, n, metric, "p95"))
                      for n in results.sizes(system)]
            points = [p for p in points if p[1] is not None]
            if not points:
                continue
            ns, med, p95 = zip(*points)
            err = [[0.0] * len(med), [max(0.0, (p or m) - m) for m, p in zip(med, p95)]]
            lat.errorbar(ns, med, yerr=err, color=color, linestyle=line, marker=marker, capsize=3,
                         label=f"{label}: {name}")
        seconds = [(n, results.value(system, n, "startup", "seconds")) for n in results.sizes(system)]
        seconds = [p for p in seconds if p[1] is not None]
        if seconds:
            start.plot(*zip(*seconds), color=color, linestyle=line, marker="o", label=label)
    scale_ms = results.scale_value("ping_api", "median")
    if scale_ms is not None:
        n = results.scale["minions"]
        lat.plot([n], [scale_ms], color="tab:blue", marker="*", markersize=12, linestyle="none",
                 label=f"pvc: test.ping API, {n} minions (swarm)")
        scale_s = results.scale_value("startup", "seconds")
        if scale_s is not None:
            start.plot([n], [scale_s], color="tab:blue", marker="*", markersize=12, linestyle="none",
                       label=f"pvc, {n} minions (swarm)")
    for ax, title, unit in ((lat, "Latency vs minions (median, bar to p95)", "ms"),
                            (start, "Start of N minions until all answer", "s")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("minions (N)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(f"pvc vs Salt — {results.date}, {results.host.get('cpus')} CPUs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_cluster(result: dict[str, Any], path: Path) -> None:
    """The PNG of ``python -m bench cluster``: new-primary time, flush/ready time against
    parallelism, idle minion RSS; PVC's published figures and the targets as lines (log scales)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.report import PVC_FLUSH_S_PER_VM, PVC_PRIMARY_S, TARGET_FLUSH_S, TARGET_PRIMARY_S

    fig, (prim, flush, mem) = plt.subplots(1, 3, figsize=(15, 5))
    primary = result.get("primary") if isinstance(result.get("primary"), dict) else None
    if primary:
        for i, (key, label) in enumerate((("recorded_s", "recorded in ZooKeeper"), ("acting_s", "acting"))):
            values = [r[key] for r in primary["runs"]]
            prim.scatter([i] * len(values), values, color="tab:blue", alpha=0.6)
            prim.bar([i], [statistics.median(values)], color="tab:blue", alpha=0.3)
        prim.set_xticks([0, 1], ["recorded", "acting"])
    prim.axhspan(*PVC_PRIMARY_S, color="tab:red", alpha=0.2, label="PVC published (65–75 s)")
    prim.axhline(TARGET_PRIMARY_S, color="tab:green", linestyle="--", label=f"target < {TARGET_PRIMARY_S:g} s")
    flush_runs = result.get("flush") if isinstance(result.get("flush"), list) else []
    if flush_runs:
        ps = [r["parallel"] for r in flush_runs]
        for verb, marker in (("flush", "o"), ("ready", "s")):
            flush.plot(ps, [r[verb]["cli_wall_s"] for r in flush_runs], marker=marker, color="tab:blue",
                       linestyle="-" if verb == "flush" else ":", label=f"pvc {verb} (command)")
        vms = flush_runs[0]["flush"]["vms"]
        flush.axhline(PVC_FLUSH_S_PER_VM * vms, color="tab:red", alpha=0.5,
                      label=f"PVC serial, worst case ({PVC_FLUSH_S_PER_VM:g} s × {vms})")
        flush.set_xscale("log", base=2)
        flush.set_xticks(ps, [str(p) for p in ps])
    flush.axhline(TARGET_FLUSH_S, color="tab:green", linestyle="--", label=f"target < {TARGET_FLUSH_S:g} s (10 VMs)")
    mem_part = result.get("memory") if isinstance(result.get("memory"), dict) else None
    if mem_part:
        bars = [("pvc plain", mem_part["plain_minion_rss_mib"], "tab:blue"),
                ("pvc hypervisor", mem_part["hypervisor_minion_rss_mib"], "tab:cyan")]
        if mem_part.get("salt_minion"):
            bars.append(("Salt", mem_part["salt_minion"]["rss_mib"], "tab:red"))
        mem.bar([b[0] for b in bars], [b[1] for b in bars], color=[b[2] for b in bars])
        for i, b in enumerate(bars):
            mem.annotate(f"{b[1]:.1f}", (i, b[1]), ha="center", va="bottom")
    for ax, title, ylabel, log in ((prim, "New primary after SIGKILL", "s", True),
                                   (flush, "Flush / ready vs parallel", "s", True),
                                   (mem, "Idle minion RSS", "MiB", False)):
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    flush.set_xlabel("parallel migrations")
    fig.suptitle(f"pvc cluster — {result.get('date')}, {result.get('host', {}).get('cpus')} CPUs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
