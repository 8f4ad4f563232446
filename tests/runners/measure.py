"""Flush/ready of N running VMs with parallel 1, 2 and 4, and new-primary time (5 SIGKILLs),
on a fresh lab; prints JSON. For ``python -m bench cluster`` to adopt::

    python -m tests.runners.measure 10
"""

from __future__ import annotations

import json
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pvc.cluster.records import NodeResources
from tests.lab.conftest import pvc
from tests.runners.conftest import ROOT, ClusterLab, guest_xml, ticks
from tests.runners.fakenodes import FakeNodes

NODES = ("hv1", "hv2", "hv3")


def consecutive(numbers: list[int]) -> bool:
    return bool(numbers) and numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def request(cl: ClusterLab, verb: str, parallel: int) -> dict[str, Any]:
    t0 = time.monotonic()
    r = cl.json("node", verb, "hv1", "--wait", "--parallel", str(parallel))
    downtimes = [s["downtime_ms"] for s in r["steps"]]
    return {"state": r["state"], "seconds": r["seconds"], "cli_wall": round(time.monotonic() - t0, 2),
            "downtime_ms_max": max(downtimes), "downtime_ms_median": statistics.median(downtimes)}


def measure(cl: ClusterLab, count: int) -> dict[str, Any]:
    out: dict[str, Any] = {"vms": count}
    names = [f"b{i}" for i in range(count)]
    for n in names:
        proc = cl.pvc("vm", "define", str(guest_xml(cl.dir, n)), "--node", "hv1")
        assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 120
    while not all(ticks(cl.dir, n)[1] for n in names):
        assert time.monotonic() < deadline, "guests did not boot"
        time.sleep(0.5)
    for parallel in (1, 2, 4):
        out[f"flush_p{parallel}"] = request(cl, "flush", parallel)
        out[f"ready_p{parallel}"] = request(cl, "ready", parallel)
        print(json.dumps(out), file=sys.stderr, flush=True)
    out["guests_with_gap_or_restart"] = [n for n in names if ticks(cl.dir, n)[0] != 1
                                         or not consecutive(ticks(cl.dir, n)[1])]
    times = []
    for k in range(5):
        old = cl.wait_primary()
        t0 = time.monotonic()
        cl.coordinators[old].send_signal(signal.SIGKILL)
        cl.coordinators[old].wait()
        cl.wait_primary(timeout=15, not_id=old)
        times.append(round(time.monotonic() - t0, 2))
        cl.start_coordinator(f"x{k}")
        time.sleep(1.5)  # the new contender is in line before the next kill
    out["new_primary_s"] = times
    out["new_primary_median_s"] = statistics.median(times)
    return out


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    lab_dir = Path(tempfile.mkdtemp(prefix="pvc-flush-")) / "lab"
    up = pvc("lab", "up", "--dir", str(lab_dir), "--nodes", "3", "--vms", "0")
    assert up.returncode == 0, up.stderr
    lab = json.loads((lab_dir / "lab.json").read_text())
    zk, master_dir = lab["zookeeper"]["hosts"], lab["masters"][0]["config_dir"]
    assert pvc("cluster", "init", "--zk", zk, "--zk-root", ROOT, "--overwrite").returncode == 0
    big = NodeResources(memory_total=16384, memory_used=512)
    fake = FakeNodes(zk, ROOT, NODES, {n: big for n in NODES})
    cl = ClusterLab(lab_dir, zk, master_dir, fake)
    try:
        cl.start_coordinator("c1")
        cl.wait_primary()
        cl.start_coordinator("c2")
        print(json.dumps(measure(cl, count), indent=1))
    finally:
        cl.stop_coordinators()
        fake.close()
        pvc("lab", "down", "--dir", str(lab_dir))
        shutil.rmtree(lab_dir.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
