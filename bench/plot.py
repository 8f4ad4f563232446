"""The PNG of a run: latency against the number of minions, both systems, log scales.

Left: ``test.ping`` through the API and through the CLI, and ``cmd.run true`` (medians, with
the p95 as the top of an error bar), pvc's 1,000-minion scale run as a lone point. Right: start
of N minions until all answer.

Example::

    plot(results, Path("bench/results/2025-11-25T081200.png"))
"""

from __future__ import annotations

from pathlib import Path

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
