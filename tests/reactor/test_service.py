"""The reactor on a real master, real minions, a real ZooKeeper and real coordinator processes:
an event triggers its job once; loop protection and the rate limit hold; runner actions report;
a beacon's full disk reaches the reactor; only the primary acts and a new primary replays nothing.

The module shares one cluster; the tests run in file order (the last one changes the primary).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pvc.cluster.store import ClusterStore
from pvc.config import load_master
from pvc.reactor.service import MAX_EVENT, _decode
from pvc.wire.codec import pack
from tests.cluster.pvc import PvcCluster, stop_process
from tests.cluster.wait import wait_for
from tests.minion.beacons.tmpfs import fill, small_tmpfs
from tests.reactor.bus import Bus
from tests.reactor.test_readme import example

RULES = [
    {"pvc/test/ready/*": [{"notify": {"message": "ready", "level": "debug"}}]},
    *example("reactor"),  # the README's rules: dead node, disk fault, failed VM
    {"name": "go", "tag": "pvc/test/*/go", "actions": [
        {"job": {"tgt": "{{ data.target }}", "tgt_type": "list", "fun": "test.arg", "args": ["{{ parts[2] }}"]}},
        {"notify": {"message": "go from {{ parts[2] }}"}}]},
    {"name": "chain", "tag": "pvc/job/*/ret/m2", "max_depth": 3, "actions": [
        {"job": {"tgt": "m2", "tgt_type": "list", "fun": "test.echo", "args": ["chained"]}}]},
    {"name": "apply", "tag": "pvc/test/*/state", "actions": [
        {"state": {"tgt": "{{ parts[2] }}", "tgt_type": "list", "sls": "marker"}}]},
    {"name": "burst", "tag": "pvc/test/*/burst", "max_per_minute": 2, "actions": [{"notify": {"message": "b"}}]},
    {"name": "doc", "tag": "pvc/test/*/runner", "actions": [{"runner": {"name": "sys.doc", "args": ["{{ data.of }}"]}}]},
    {"name": "scratch-fault", "tag": "pvc/beacon/*/scratch", "actions": [
        {"notify": {"message": "{% if data.state == 'crossed' %}disk full on {{ parts[2] }}: {{ data.percent }}%"
                               "{% else %}disk of {{ parts[2] }} back to {{ data.percent }}%{% endif %}",
                    "level": "error"}}]},
]


def start_coordinator(cluster: PvcCluster, zk: str, root: str, name: str) -> subprocess.Popen[bytes]:
    """A coordinator for ``cluster``'s master, logging to ``coordinator-<name>.log`` beside it."""
    with open(cluster.root / f"coordinator-{name}.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "pvc.runners.coordinator", "-c", str(cluster.master_dir),
                                 "--zk", zk, "--root", root, "--id", name, "--session-timeout", "2"],
                                stdout=log, stderr=log)


@dataclass
class ReactorLab:
    cluster: PvcCluster
    store: ClusterStore
    zk: str
    root: str
    bus: Bus
    disk: Path
    coordinators: dict[str, subprocess.Popen[bytes]]

    def start_coordinator(self, name: str) -> None:
        self.coordinators[name] = start_coordinator(self.cluster, self.zk, self.root, name)

    def contenders(self) -> list[str]:
        return list(self.store.client.zk.Lock(self.store.schema.path("election")).contenders())

    def wait_reactor(self, by: str, timeout: float = 30.0) -> None:
        """``by`` is primary and its reactor hears the bus (a probe event comes back as a notice)."""
        deadline = time.monotonic() + timeout
        n = 0
        while time.monotonic() < deadline:
            n += 1
            self.cluster.client().fire_event(f"pvc/test/ready/{by}-{n}", {})
            self.bus.pump(0.3)
            if any(d.get("by") == by for d in self.bus.tagged("pvc/reactor/rule-1/notify")):
                return
        raise TimeoutError(f"the reactor of {by} did not answer within {timeout:g}s")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, zk_hosts: str) -> Iterator[ReactorLab]:
    from pvc.cluster.client import connect
    from pvc.cluster.migrations import init_cluster

    base = tmp_path_factory.mktemp("reactor")
    root = f"/reactor-{base.name}"
    srv = base / "srv"
    srv.mkdir()
    (srv / "marker.sls").write_text(f"{base}/marker-{{{{ grains['id'] }}}}:\n  file.managed:\n    - contents: reacted\n")
    options = {"reactor": RULES, "file_roots": {"base": [str(srv)]}}
    with small_tmpfs(base / "disk") as disk, PvcCluster(base / "cluster", master_options=options) as c, \
            connect(zk_hosts, session_timeout=2.0, timeout=30.0) as zk:
        init_cluster(zk, root)
        c.start_master()
        c.add_minion("m1")
        c.add_minion("m2")
        c.add_minion("m3", beacons={"scratch": {"disk": {"path": str(disk), "max_percent": 50}, "interval": 0.2}})
        c.wait_connected()
        lab = ReactorLab(c, ClusterStore.open(zk, root), zk_hosts, root, Bus(load_master(c.master_dir), "pvc/"), disk, {})
        try:
            lab.bus.ready(c.client())
            lab.start_coordinator("c1")
            lab.wait_reactor("c1")
            yield lab
        finally:
            lab.bus.sock.close(0)
            for proc in lab.coordinators.values():
                stop_process(proc)
            c.stop_minion("m3")  # before its file system goes away


def reports(lab: ReactorLab, rule: str, kind: str, trigger: str | None = None) -> list[dict]:
    return [d for d in lab.bus.tagged(f"pvc/reactor/{rule}/{kind}") if trigger is None or d["trigger"] == trigger]


@pytest.mark.parametrize("frames", [
    [b"pvc/x"], [b"pvc/x", b"\xc1"], [b"pvc/x", pack([1, 2])], [b"pvc/x", pack({"tag": 1, "data": {}, "ts": 1.0})],
    [b"pvc/x", pack({"tag": "pvc/x", "data": [], "ts": 1.0})], [b"pvc/x", pack({"tag": "pvc/x", "data": {}, "ts": True})],
    [b"pvc/x", pack({"tag": "pvc/x", "data": {}, "ts": float("nan")})], [b"pvc/x", b"\x00" * (MAX_EVENT + 1)],
])
def test_malformed_bus_frames_are_dropped(frames: list[bytes]) -> None:
    assert _decode(frames) is None


def test_a_well_formed_frame_decodes() -> None:
    assert _decode([b"pvc/x", pack({"tag": "pvc/x", "data": {"a": 1}, "ts": 5})]) == ("pvc/x", {"a": 1}, 5.0)


def test_runner_pool_is_bounded_and_a_closed_backlog_does_not_count_against_the_next() -> None:
    import threading

    from pvc.reactor.engine import Step
    from pvc.reactor.service import MAX_PENDING, RUNNER_WORKERS, RunnerPool

    release, done = threading.Event(), []
    step = Step("r", "runner", "pvc/x", 0)

    def work(s: Step) -> None:
        release.wait(10)
        done.append(s)

    pool = RunnerPool(work)
    assert all(pool.submit(step) for _ in range(MAX_PENDING))
    assert not pool.submit(step)  # one more than the bound is refused (reported as dropped)
    pool.close()                  # the seat is lost: waiting actions are cancelled
    release.set()
    wait_for(lambda: len(done) == RUNNER_WORKERS, 10, "the running actions to finish")
    time.sleep(0.2)
    assert len(done) == RUNNER_WORKERS
    fresh = RunnerPool(work)
    assert fresh.submit(step)
    wait_for(lambda: len(done) == RUNNER_WORKERS + 1, 10, "the next run's action")
    fresh.close()


def test_an_event_triggers_its_job_once(lab: ReactorLab) -> None:
    trigger = "pvc/test/hv9/go"
    lab.cluster.client().fire_event(trigger, {"target": "m1"})
    lab.bus.wait(lambda _: reports(lab, "go", "job", trigger) and reports(lab, "go", "notify", trigger), 15,
                 "the go rule's reports")
    lab.bus.pump(1.5)  # anything more would be a second run
    (job,) = reports(lab, "go", "job", trigger)
    assert job["fun"] == "test.arg" and job["tgt"] == "m1" and job["minions"] == ["m1"] and job["by"] == "c1"
    (notice,) = reports(lab, "go", "notify", trigger)
    assert notice["message"] == "go from hv9"
    ret = f"pvc/job/{job['jid']}/ret/m1"
    lab.bus.wait(lambda _: lab.bus.tagged(ret), 15, "the job's return")
    assert lab.bus.tagged(ret)[0]["data"]["args"] == ["hv9"]
    assert [s.jid for s in lab.cluster.client().jobs(fun="test.arg")] == [job["jid"]]


def test_a_hostile_target_from_an_event_is_a_list_of_ids_not_a_glob(lab: ReactorLab) -> None:
    trigger = "pvc/test/evil/go"
    lab.cluster.client().fire_event(trigger, {"target": "*"})
    lab.bus.wait(lambda _: reports(lab, "go", "job", trigger) or reports(lab, "go", "failed", trigger), 15,
                 "the go rule's report")
    lab.bus.pump(0.5)
    assert reports(lab, "go", "job", trigger) == []
    (failed,) = reports(lab, "go", "failed", trigger)
    assert failed["of"] == "job" and "minion id '*' is not allowed" in failed["error"]


def test_a_state_action_applies_the_sls_on_the_target(lab: ReactorLab) -> None:
    trigger = "pvc/test/m1/state"  # m1: jobs on m2 set off the chain rule
    lab.cluster.client().fire_event(trigger, {})
    lab.bus.wait(lambda _: reports(lab, "apply", "state", trigger), 15, "the state report")
    (state,) = reports(lab, "apply", "state", trigger)
    assert state["fun"] == "state.apply" and state["args"] == ["marker"] and state["minions"] == ["m1"]
    ret = f"pvc/job/{state['jid']}/ret/m1"
    lab.bus.wait(lambda _: lab.bus.tagged(ret), 60, "the state run's return")
    assert lab.bus.tagged(ret)[0]["ok"], lab.bus.tagged(ret)
    marker = lab.cluster.root.parent / "marker-m1"
    assert marker.read_text().strip() == "reacted"


def test_loop_protection_ends_a_self_triggering_chain(lab: ReactorLab) -> None:
    before = len(lab.cluster.client().jobs(fun="test.echo"))
    lab.cluster.client().run(["m2"], "test.echo", ["start"])
    lab.bus.wait(lambda _: reports(lab, "chain", "loop"), 30, "the chain rule's loop report")
    lab.bus.pump(1.5)
    chained = reports(lab, "chain", "job")
    assert [j["depth"] for j in chained] == [0, 1, 2]
    (loop,) = reports(lab, "chain", "loop")
    assert loop["depth"] == 3 and loop["max_depth"] == 3
    assert len(lab.cluster.client().jobs(fun="test.echo")) == before + 4  # ours and the reactor's three


def test_the_rate_limit_reports_once_per_burst(lab: ReactorLab) -> None:
    for n in range(6):
        lab.cluster.client().fire_event(f"pvc/test/b{n}/burst", {})
    lab.bus.wait(lambda _: reports(lab, "burst", "throttled"), 15, "the throttled report")
    lab.bus.pump(1.0)
    assert len(reports(lab, "burst", "notify")) == 2
    assert len(reports(lab, "burst", "throttled")) == 1


def test_runner_actions_report_their_result_or_error(lab: ReactorLab) -> None:
    client = lab.cluster.client()
    client.fire_event("pvc/test/ok/runner", {"of": "vm.start"})
    client.fire_event("pvc/test/bad/runner", {"of": "nope.none"})
    lab.bus.wait(lambda _: reports(lab, "doc", "runner") and reports(lab, "doc", "failed"), 20, "runner reports")
    (ok,) = reports(lab, "doc", "runner")
    assert ok["trigger"] == "pvc/test/ok/runner" and ok["ok"] and "vm.start" in ok["result"]
    (bad,) = reports(lab, "doc", "failed")
    assert bad["trigger"] == "pvc/test/bad/runner" and "UnknownRunner" in bad["error"]


def test_a_full_disk_beacon_raises_a_fault_notice_once(lab: ReactorLab) -> None:
    beacon = "pvc/beacon/m3/scratch"
    filled = fill(lab.disk, 800)
    lab.bus.wait(lambda _: reports(lab, "scratch-fault", "notify"), 15, "the disk fault notice")
    lab.bus.pump(2.0)  # ten more samples of a full disk
    assert [e["state"] for e in lab.bus.tagged(beacon)] == ["crossed"]
    (fault,) = reports(lab, "scratch-fault", "notify")
    assert fault["message"].startswith("disk full on m3: ") and fault["level"] == "error"
    filled.unlink()
    lab.bus.wait(lambda _: len(reports(lab, "scratch-fault", "notify")) == 2, 15, "the recovery notice")
    assert reports(lab, "scratch-fault", "notify")[1]["message"].startswith("disk of m3 back to ")


def test_the_readme_rules_notify_a_dead_node_and_start_a_failed_vm(lab: ReactorLab) -> None:
    """The README's dead-node rule logs on the primary and fires its notice; its failed-VM rule runs
    the vm.start runner, which sends virt.start to the VM's node (m1 has no such domain: the
    runner's error comes back as the report, with the node's answer in it)."""
    from pvc.cluster.records import VMRecord, VMState

    vm = f"rx{int(time.time() * 1000) % 10**8}"
    with lab.store.batch() as batch:
        batch.put_vm(VMRecord(vm, "<domain type='kvm'/>", VMState.FAIL, node="m1"), None)
    client = lab.cluster.client()
    client.fire_event("pvc/node/hv2/dead", {"node": "hv2"})
    client.fire_event(f"pvc/vm/{vm}/failed", {"reason": "crashed 3 times"})
    lab.bus.wait(lambda _: reports(lab, "dead-node", "notify")
                 and (reports(lab, "restart-failed-vm", "runner") or reports(lab, "restart-failed-vm", "failed")),
                 60, "the README rules' reports")
    (notice,) = reports(lab, "dead-node", "notify")
    assert notice["message"] == "node hv2 is dead" and notice["level"] == "error"
    log = (lab.cluster.root / "coordinator-c1.log").read_text()
    assert "reactor dead-node: node hv2 is dead (event pvc/node/hv2/dead)" in log
    (failed,) = reports(lab, "restart-failed-vm", "failed")
    assert failed["name"] == "vm.start" and failed["args"] == [vm]
    assert "virt.start on m1" in failed["error"], failed
    assert lab.store.vm(vm).record.desired_state == VMState.START  # the runner did its part


def test_pvc_event_listen_shows_what_the_reactor_did(lab: ReactorLab) -> None:
    import json
    import os
    import select

    listener = subprocess.Popen([sys.executable, "-m", "pvc.cli.main", "event", "listen", "-c",
                                 str(lab.cluster.master_dir), "pvc/reactor/*", "--out", "json", "--timeout", "60"],
                                stdout=subprocess.PIPE)
    assert listener.stdout is not None
    fd, rest = listener.stdout.fileno(), [b""]
    seen: list[dict] = []
    client = lab.cluster.client()

    def read(seconds: float) -> None:
        until = time.monotonic() + seconds
        while (left := until - time.monotonic()) > 0:
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return
                *lines, rest[0] = (rest[0] + chunk).split(b"\n")
                seen.extend(json.loads(line) for line in lines if line)

    try:
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:  # until its subscription is live
            client.fire_event("pvc/reactor/probe/listen", {})
            read(0.3)
        client.fire_event("pvc/test/cli/go", {"target": "m1"})
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(e["tag"] == "pvc/reactor/go/job" for e in seen):
            read(0.3)
    finally:
        stop_process(listener)
    (job,) = [e["data"] for e in seen if e["tag"] == "pvc/reactor/go/job"]
    assert job["trigger"] == "pvc/test/cli/go" and job["minions"] == ["m1"] and job["by"] == "c1"


def test_only_the_primary_acts_and_a_new_primary_replays_nothing(lab: ReactorLab) -> None:
    lab.start_coordinator("c2")
    wait_for(lambda: lab.contenders() == ["c1", "c2"], 20, "c2 in line behind c1")
    client = lab.cluster.client()
    first = "pvc/test/np1/go"
    client.fire_event(first, {"target": "m1"})
    lab.bus.wait(lambda _: reports(lab, "go", "job", first), 15, "the job of the first event")
    lab.bus.pump(1.5)
    assert [j["by"] for j in reports(lab, "go", "job", first)] == ["c1"]  # c2 hears the bus only as primary

    lab.coordinators["c1"].send_signal(signal.SIGTERM)
    lab.coordinators["c1"].wait(15)
    lab.wait_reactor("c2")
    assert [j["by"] for j in reports(lab, "go", "job", first)] == ["c1"]  # nothing replayed by the new primary
    second = "pvc/test/np2/go"
    client.fire_event(second, {"target": "m1"})
    lab.bus.wait(lambda _: reports(lab, "go", "job", second), 15, "the job of the second event")
    lab.bus.pump(1.5)
    assert [j["by"] for j in reports(lab, "go", "job", second)] == ["c2"]
