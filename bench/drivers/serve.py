"""The driver side of the harness protocol: one JSON request per line in, one reply per line out.

A request is ``{"op": NAME, ...params}``; the reply is ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": "Type: message"}``. Libraries that print (Salt's LocalClient prints
"No minions matched the target") must not corrupt the channel, so ``sys.stdout`` is pointed at
stderr and replies go to a private duplicate of the original stdout.

Also the shared timing helpers, so that both drivers time things identically.

Example (in a driver)::

    serve(SaltDriver(conf_path))      # ops are the driver's public methods
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

# Bounds for every loop a driver runs.
MAX_REPEAT = 10_000
MAX_BATCH = 4096
BATCH_TARGET_S = 1.0  # pipelined batches double until one takes about this long
PROBE_SHARE = 0.05  # start-up probes: re-ping at most every 5% of the time waited so far


def probe_interval(every: float, waited: float) -> float:
    """How long to wait before re-pinging the silent minions during start-up: ``every`` at
    first, then a share of the time waited, so that the probes' own load (every publication
    reaches every connected minion) stays small while the resolution stays within ~5%."""
    return max(every, PROBE_SHARE * waited)


def wait_answering(ids: list[str], timeout: float, every: float, publish: Callable[[list[str]], None],
                   poll: Callable[[], Iterable[str]]) -> dict[str, Any]:
    """Start-up probe: ``publish(silent_ids)`` a test.ping (see :func:`probe_interval`) and
    ``poll()`` the ids that answered, until every id has answered or ``timeout`` passed."""
    want: set[str] = set(ids)
    answered: set[str] = set()
    t0 = time.perf_counter()
    next_pub = 0.0
    while answered < want and time.perf_counter() - t0 < timeout:
        if time.perf_counter() >= next_pub:
            next_pub = time.perf_counter() + probe_interval(every, time.perf_counter() - t0)
            publish(sorted(want - answered))
        answered.update(poll())
    return {"answered": len(answered & want), "seconds": time.perf_counter() - t0}


def serve(driver: object) -> None:
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr
    for line in sys.stdin:
        req = json.loads(line)
        op = req.pop("op")
        fn = getattr(driver, op, None) if not op.startswith("_") else None
        try:
            if fn is None:
                raise ValueError(f"unknown op {op!r}")
            reply = {"ok": True, "result": fn(**req)}
        except Exception as exc:  # noqa: BLE001 - the harness records the failure and goes on
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply, default=str) + "\n")


def timed_calls(call: Callable[[], dict[str, Any]], expect: Any, repeat: int) -> dict[str, Any]:
    """Call ``repeat`` times; per call the milliseconds and how many minions returned ``expect``."""
    ms: list[float] = []
    matched: list[int] = []
    returned: list[int] = []
    sample: Any = None
    for _ in range(min(repeat, MAX_REPEAT)):
        t0 = time.perf_counter()
        ret = call()
        ms.append((time.perf_counter() - t0) * 1000)
        matched.append(sum(1 for v in ret.values() if v == expect))
        returned.append(len(ret))
        if ret and sample is None:
            sample = describe(next(iter(ret.values())))
    return {"ms": ms, "matched": matched, "returned": returned, "sample": sample}


def describe(value: Any) -> dict[str, Any]:
    """A short description of one returned value (type, length, head) for the report."""
    text = value if isinstance(value, str) else repr(value)
    return {"type": type(value).__name__, "len": len(text), "head": text[:40]}


def sequential(call: Callable[[], bool], seconds: float) -> dict[str, Any]:
    """Back-to-back jobs for ``seconds``; ``call`` returns whether the job came back right."""
    ok = failed = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds and ok + failed < MAX_REPEAT * 100:
        if call():
            ok += 1
        else:
            failed += 1
    elapsed = time.perf_counter() - t0
    return {"jobs": ok, "failed": failed, "seconds": elapsed, "per_s": ok / elapsed}


def pipelined(batch_run: Callable[[int], int], seconds: float) -> dict[str, Any]:
    """Batches of async jobs (publish all, then collect all) for ``seconds``; ``batch_run(k)``
    returns how many of its ``k`` jobs came back. The batch doubles (1, 2, 4, ... up to
    ``MAX_BATCH``) while a batch takes less than ``BATCH_TARGET_S``, so both a slow and a fast
    system keep many jobs in flight without one batch outlasting the whole window."""
    ok = sent = 0
    k = 1
    sizes: list[int] = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds and len(sizes) < MAX_REPEAT:
        b0 = time.perf_counter()
        ok += batch_run(k)
        sent += k
        sizes.append(k)
        if time.perf_counter() - b0 < BATCH_TARGET_S and k < MAX_BATCH:
            k *= 2
    elapsed = time.perf_counter() - t0
    return {"jobs": ok, "sent": sent, "seconds": elapsed, "per_s": ok / elapsed, "largest_batch": max(sizes)}
