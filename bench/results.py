"""All numbers of one benchmark run, and the one way to read a number out of them.

Stored as ``bench/results/<date>.json``: host facts (CPUs, load average before and after),
versions of both systems, the options used, then per system and size the metrics of
:func:`bench.measure.measure`, the ``--version`` timings and the pvc scale run.

Example::

    r = Results.load(Path("bench/results/2025-11-25T0812.json"))
    r.value("salt", 50, "ping_api", "median")     # milliseconds, or None if not measured
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def host_facts() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "mem_total_mib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024),
            "loadavg_start": list(os.getloadavg())}


@dataclass
class Results:
    date: str
    options: dict[str, Any]
    host: dict[str, Any] = field(default_factory=host_facts)
    versions: dict[str, Any] = field(default_factory=dict)
    runs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # system -> str(N) -> metrics
    errors: dict[str, dict[str, str]] = field(default_factory=dict)  # system -> str(N) or "scale" -> message
    version_cli: dict[str, dict[str, Any]] = field(default_factory=dict)
    scale: dict[str, Any] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)

    def add_run(self, system: str, n: int, metrics: dict[str, Any]) -> None:
        self.runs.setdefault(system, {})[str(n)] = metrics

    def add_error(self, system: str, where: str, message: str) -> None:
        self.errors.setdefault(system, {})[where] = message

    def sizes(self, system: str | None = None) -> list[int]:
        systems = [system] if system else list(self.runs)
        return sorted({int(n) for s in systems for n in self.runs.get(s, {})})

    def value(self, system: str, n: int, metric: str, key: str) -> float | None:
        entry = self.runs.get(system, {}).get(str(n), {}).get(metric)
        return _number(entry, key)

    def scale_value(self, metric: str, key: str) -> float | None:
        return _number(self.scale.get(metric), key)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=False)

    @classmethod
    def load(cls, path: Path) -> Results:
        return cls(**json.loads(path.read_text()))


def _number(entry: Any, key: str) -> float | None:
    """``entry[key]`` as a float; a dotted key walks nested maps (``sample.len``)."""
    if not isinstance(entry, dict) or "error" in entry:
        return None
    value: Any = entry
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def save(out_dir: Path, name: str, date: str, result: dict[str, Any],
         plot: Callable[[dict[str, Any], Path], None], markdown: str) -> Path:
    """Write ``out_dir/NAME-DATE.json`` and its PNG, print the markdown table, say where they went."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{name}-{date}.json"
    out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    plot(result, out.with_suffix(".png"))
    print(markdown)
    print(f"\nwrote {out} and {out.with_suffix('.png').name}", file=sys.stderr)
    return out
