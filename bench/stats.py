"""Summaries of repeated timings: median and p95 (nearest rank), as the issue asks.

Example::

    summarize([12.0, 10.0, 11.0])   # {"median": 11.0, "p95": 12.0, "min": 10.0, "max": 12.0, "runs": 3}
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def summarize(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"runs": 0}
    return {"median": statistics.median(values), "p95": percentile(values, 95), "min": min(values),
            "max": max(values), "runs": len(values)}
