"""What a ``python -m bench chaos`` run prints and draws: its faults, recoveries and violations.

:func:`summarise` reduces the step records to the figures the issue asks for (faults by kind,
recoveries, the slowest, every violation); :func:`markdown` prints them with one row per step;
:func:`plot` draws each fault's recovery time against the step, beside the target (< 15 s) and
PVC's ~75-80 s, violations marked in red.

Example::

    result["summary"] = summarise(result["steps"])
    print(markdown(result)); plot(result, Path("bench/results/chaos-x.png"))
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TARGET_S = 15.0
PVC_S = (75.0, 80.0)


def death_to_running(step: dict[str, Any]) -> float:
    """Seconds from the node's death to its VMs running elsewhere: from the fault, or, when its
    BMC was unreachable on purpose (nothing may move then), from the moment it answered again."""
    return round(float(step["recovery_s"]) - float(step["notes"].get("bmc_back_s", 0.0)), 3)


def summarise(steps: list[dict[str, Any]], boot_violations: Sequence[str] = ()) -> dict[str, Any]:
    faults = [s for s in steps if s["kind"] != "repair"]
    recoveries = [s for s in faults if s["recovery_s"] is not None and s["moved"]]
    slowest = max(recoveries, key=death_to_running, default=None)
    return {"faults": dict(Counter(s["kind"] for s in faults)), "recoveries": len(recoveries),
            "vms_recovered": sum(len(s["moved"]) for s in recoveries),
            "slowest_recovery": None if slowest is None else {
                "step": slowest["index"], "kind": slowest["kind"], "nodes": slowest["nodes"],
                "seconds": death_to_running(slowest)},
            "recoveries_s": [death_to_running(s) for s in recoveries],
            "recoveries_over_target": [s["index"] for s in recoveries if death_to_running(s) >= TARGET_S],
            "failed_steps": [{"step": s["index"], "kind": s["kind"], "error": s["error"]} for s in steps if s["error"]],
            "violations": [v for s in steps for v in s["violations"]] + list(boot_violations)}


def markdown(result: dict[str, Any]) -> str:
    summary = result["summary"]
    lines = [(f"### chaos seed {result['seed']}: {len(result['steps']) // 2} fault(s) on pvc lab "
              f"(3 nodes, 2 masters, 3 ZooKeeper servers), load average {result['host']['loadavg_start'][0]:.1f}"),
             "", "| step | fault | nodes | VMs to move | recovery (s) | took (s) | violations | error |",
             "|---|---|---|---|---|---|---|---|"]
    for s in result["steps"]:
        recovery = "-" if s["recovery_s"] is None else f"{death_to_running(s):.2f}"
        lines.append(f"| {s['index']} | {s['kind']} | {','.join(s['nodes']) or '-'} | {len(s['moved'])} | {recovery} | "
                     f"{s['seconds']:.1f} | {len(s['violations'])} | {s['error'][:120]} |")
    slowest = summary["slowest_recovery"]
    lines += ["", f"faults: {summary['faults']}",
              f"recoveries: {summary['recoveries']} ({summary['vms_recovered']} VMs), slowest: "
              + (f"{slowest['seconds']:.2f} s ({slowest['kind']} of {','.join(slowest['nodes'])}, step {slowest['step']})"
                 if slowest else "-") + f"; target < {TARGET_S:g} s, PVC ~{PVC_S[0]:g}-{PVC_S[1]:g} s",
              boots_line(result.get("boots")), f"invariant violations: {len(summary['violations'])}"]
    lines += [f"  {v}" for v in summary["violations"][:50]]
    lines += [f"  step {f['step']} ({f['kind']}) failed: {f['error'][:300]}" for f in summary["failed_steps"]]
    lines += [f"**{name} failed**: {error}" for name, error in result["errors"].items()]
    return "\n".join(lines)


def boots_line(boots: dict[str, Any] | None) -> str:
    if not boots:
        return "guest boots: not counted"
    fewer = boots.get("fewer_boots", [])
    return (f"guest boots (serial console) vs starts: {sum(boots['seen'].values())} / {sum(boots['expected'].values())}"
            f" (never more; fewer for {', '.join(fewer) or 'none'}: cut short by a later fault or still booting)")


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    faults = [s for s in result["steps"] if s["kind"] != "repair"]
    kinds = sorted({s["kind"] for s in faults})
    for kind in kinds:
        done = [s for s in faults if s["kind"] == kind and s["recovery_s"] is not None]
        if done:
            ax.scatter([s["index"] // 2 for s in done], [death_to_running(s) for s in done], label=kind, zorder=3)
    bad = [s for s in result["steps"] if s["violations"] or s["error"]]
    if bad:
        ax.scatter([s["index"] // 2 for s in bad], [s["recovery_s"] or s["seconds"] for s in bad], marker="x",
                   color="red", s=80, zorder=4, label="violation / failed step")
    ax.axhspan(*PVC_S, color="tab:red", alpha=0.15, label=f"PVC (~{PVC_S[0]:g}-{PVC_S[1]:g} s)")
    ax.axhline(TARGET_S, color="tab:green", linestyle="--", label=f"target < {TARGET_S:g} s")
    ax.set_xlabel("fault #")
    ax.set_ylabel("node death -> its VMs running elsewhere (s)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    summary = result.get("summary", {})
    ax.set_title(f"pvc chaos seed {result['seed']} — {result['date']}, {len(summary.get('violations', []))} violation(s),"
                 f" load {result['host']['loadavg_start'][0]:.1f}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
