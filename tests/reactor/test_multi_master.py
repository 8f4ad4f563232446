"""Two masters, each with its coordinator, and a minion serving both: the minion's event reaches
both buses, and the reactor acts on it once, on the primary's master only."""

from __future__ import annotations

import time
from pathlib import Path

from pvc.cluster.client import connect
from pvc.cluster.migrations import init_cluster
from pvc.cluster.store import ClusterStore
from pvc.config import load_master
from tests.cluster.pvc import stop_process
from tests.cluster.wait import wait_for
from tests.integration.test_multi_master import two_masters
from tests.reactor.bus import Bus
from tests.reactor.test_service import start_coordinator

RULES = [{"pvc/test/ready/*": [{"notify": {"message": "ready"}}]},
         {"name": "conf", "tag": "pvc/beacon/*/conf", "actions": [{"notify": {"message": "{{ data.path }} changed"}}]}]


def test_a_minion_event_heard_by_two_masters_is_acted_on_once(tmp_path: Path, zk_hosts: str, zk_root: str) -> None:
    watched = tmp_path / "watched.conf"
    with two_masters(tmp_path, "mm1", master_options={"reactor": RULES}) as (a, b), \
            connect(zk_hosts, session_timeout=2.0, timeout=30.0) as zk:
        a.stop_minion("mm1")  # again, now with a file beacon
        config = a.minion_dir("mm1") / "minion"
        config.write_text(config.read_text() + f"beacons: {{conf: {{file: {{path: {watched}}}, interval: 0.2}}}}\n")
        a.start_minion("mm1")
        a.wait_connected(["mm1"])
        b.wait_connected(["mm1"])
        init_cluster(zk, zk_root)
        store = ClusterStore.open(zk, zk_root)
        procs = [start_coordinator(a, zk_hosts, zk_root, "ca"), start_coordinator(b, zk_hosts, zk_root, "cb")]
        try:
            with Bus(load_master(a.master_dir), "pvc/") as bus_a, Bus(load_master(b.master_dir), "pvc/") as bus_b:
                bus_a.ready(a.client())
                bus_b.ready(b.client())
                wait_for(lambda: store.primary() is not None, 20, "a primary")
                primary = store.primary()
                assert primary is not None
                cluster, bus = (a, bus_a) if primary.id == "ca" else (b, bus_b)
                probes = iter(range(1000))

                def reactor_answers() -> bool:
                    cluster.client().fire_event(f"pvc/test/ready/{next(probes)}", {})
                    bus.pump(0.3)
                    return bool(bus.tagged("pvc/reactor/rule-1/notify"))

                wait_for(reactor_answers, 30, "the primary's reactor")
                watched.write_text("x")
                bus_a.wait(lambda _: bus_a.tagged("pvc/beacon/mm1/conf"), 10, "the beacon on a's bus")
                bus_b.wait(lambda _: bus_b.tagged("pvc/beacon/mm1/conf"), 10, "the beacon on b's bus")
                time.sleep(1.0)
                bus_a.pump(0.5)
                bus_b.pump(0.5)
                acted = bus_a.tagged("pvc/reactor/conf/notify") + bus_b.tagged("pvc/reactor/conf/notify")
                assert [r["by"] for r in acted] == [primary.id]
                assert acted[0]["message"] == f"{watched} changed"
                assert len(bus_a.tagged("pvc/beacon/mm1/conf")) == len(bus_b.tagged("pvc/beacon/mm1/conf")) == 1
        finally:
            for proc in procs:
                stop_process(proc)
