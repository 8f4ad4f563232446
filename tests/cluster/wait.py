"""Bounded waiting for a condition: every fixture polls through this one loop."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(cond: Callable[[], object], timeout: float, what: str, every: float = 0.05) -> None:
    """Poll ``cond`` until it is truthy; raise TimeoutError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
