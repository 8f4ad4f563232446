"""A real minion's disk beacon on a real (tiny) file system, heard on a real master's bus:
crossing the threshold is exactly one event, however many samples follow; recovering is one more."""

from __future__ import annotations

import time
from pathlib import Path

from pvc.config import load_master
from tests.cluster.pvc import PvcCluster
from tests.minion.beacons.tmpfs import fill, small_tmpfs
from tests.reactor.bus import Bus

INTERVAL = 0.2


def test_a_disk_crossing_its_threshold_is_one_event_and_recovery_one_more(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk") as disk, PvcCluster(tmp_path / "cluster") as c:
        c.start_master()
        with Bus(load_master(c.master_dir), "pvc/beacon/") as bus:
            bus.ready(c.client())
            c.add_minion("b1", beacons={"scratch": {"disk": {"path": str(disk), "max_percent": 50},
                                                    "interval": INTERVAL}})
            c.wait_connected(["b1"])
            tag = "pvc/beacon/b1/scratch"
            bus.pump(5 * INTERVAL)
            assert bus.tagged(tag) == []  # an empty disk: nothing to say, however often it is sampled

            filled = fill(disk, 800)
            started = time.monotonic()
            bus.wait(lambda evs: len(bus.tagged(tag)) == 1, 10, "the crossed event")
            crossed_after = time.monotonic() - started
            bus.pump(10 * INTERVAL)  # ten more samples, still full
            (event,) = bus.tagged(tag)
            assert event["state"] == "crossed" and event["kind"] == "disk" and event["path"] == str(disk)
            assert event["percent"] > 50 and event["max_percent"] == 50

            filled.unlink()
            bus.wait(lambda evs: len(bus.tagged(tag)) == 2, 10, "the recovered event")
            bus.pump(5 * INTERVAL)
            assert [e["state"] for e in bus.tagged(tag)] == ["crossed", "recovered"]
            assert crossed_after < 5.0, f"crossing seen after {crossed_after:.2f}s (interval {INTERVAL}s)"
            c.stop_minion("b1")  # before the file system goes away under it
