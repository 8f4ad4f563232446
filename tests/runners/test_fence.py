"""Fencing without a lab: the dead-node verdict and the crash-restart decision (pure), the fence
record on a real ZooKeeper, and a fencer that declares, cancels, and records a failed fence (no BMC
configured / a BMC that does not answer) — nothing moves then. The lab tests (tests/lab/test_fence.py)
fence real nodes through real BMCs."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import time
from collections.abc import Mapping
from typing import Any

import pytest

from pvc.cluster.keepalive import NodeKeepalive
from pvc.cluster.records import ClusterConfig, DaemonState, NodeRecord, NodeResources, VMRecord
from pvc.cluster.store import ClusterStore
from pvc.config import FenceSection
from pvc.runners.context import RunnerContext
from pvc.runners.deadnodes import find_dead
from pvc.runners.errors import StateError
from pvc.runners.fence import Fencer
from pvc.runners.fencetree import FenceRecord, FenceState, FenceTree, RecoveryStep, StepState
from pvc.runners.jobs import NodeJobs, no_jobs
from pvc.runners.recovery import plan_steps
from pvc.runners.unfence import unfence
from pvc.runners.vmrestart import RestartHistory, RestartPolicy, decide
from pvc.runners.vmxml import rbd_images

RUN = DaemonState.RUN


def node(name: str, keepalive: float | None = 100.0, state: DaemonState = RUN) -> NodeRecord:
    return NodeRecord(name, state, keepalive=keepalive)


@pytest.mark.parametrize(("record", "alive", "config", "dead"), [
    (node("hv1"), set(), ClusterConfig(), True),                                    # 7 s > 6 s grace
    (node("hv1"), {"hv1"}, ClusterConfig(), False),                                 # session still live
    (node("hv1", 102.0), set(), ClusterConfig(), False),                            # within the grace
    (node("hv1", state=DaemonState.STOPPED), set(), ClusterConfig(), False),        # clean stop
    (node("hv1", state=DaemonState.INIT), set(), ClusterConfig(), False),           # never ran
    (node("hv1", state=DaemonState.FENCED), set(), ClusterConfig(), False),         # fenced already
    (node("hv1", None), set(), ClusterConfig(), False),                             # never beat
    (node("hv1"), set(), ClusterConfig(maintenance=True), False),                   # maintenance
])
def test_dead_verdict(record: NodeRecord, alive: set[str], config: ClusterConfig, dead: bool) -> None:
    verdict = find_dead([record], alive, config, now=107.0)
    assert [d.node for d in verdict.dead] == (["hv1"] if dead else [])


def test_keepalives_count_from_when_the_observer_watches() -> None:
    """After the observer's own ZooKeeper outage (or a new primary's start) at 105, a node whose
    keepalive is 7 s old gets a whole grace to beat again."""
    verdict = find_dead([node("hv1", 100.0)], set(), ClusterConfig(), now=107.0, watching_since=105.0)
    assert verdict.dead == () and verdict.recheck_at == 111.0
    assert [d.node for d in find_dead([node("hv1", 100.0)], set(), ClusterConfig(), 111.5, 105.0).dead] == ["hv1"]


def test_verdict_says_when_to_look_again() -> None:
    verdict = find_dead([node("hv1", 102.0), node("hv2", 101.5), node("hv3", 90.0)], {"hv3"}, ClusterConfig(), 104.0)
    assert verdict.dead == () and verdict.recheck_at == 107.5


def test_restart_decision_bounded() -> None:
    policy, hist, actions = RestartPolicy(max_restarts=2, max_moves=1, window=60), RestartHistory("vm1"), []
    for t in range(6):
        action, hist = decide(hist, 1000.0 + t, policy)
        actions.append(action)
    assert actions == ["restart", "restart", "move", "restart", "restart", "fail"]
    assert decide(hist, 2000.0, policy)[0] == "restart"  # a minute without a crash: afresh
    many = RestartHistory("vm1", tuple(float(t) for t in range(500)), restarts=0)
    assert len(decide(many, 499.5, RestartPolicy(window=1e6))[1].crashes) == 64  # bounded


def test_rbd_images_of_a_domain() -> None:
    xml = ("<domain><name>v</name><devices><disk type='network'><source protocol='RBD' name='vms/v-d0'/></disk>"
           "<disk type='file'><source file='/x.img'/></disk><disk type='network'><source protocol='rbd' "
           "name='bad'/></disk></devices></domain>")
    assert rbd_images(xml) == [("vms", "v-d0")]


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, tag: str, data: Mapping[str, Any]) -> None:
        self.seen.append((tag, dict(data)))

    def tags(self) -> list[str]:
        return [t for t, _ in self.seen]


def context(store: ClusterStore, events: Events) -> RunnerContext:
    return RunnerContext(store, NodeJobs(no_jobs), logging.getLogger("test.fence"), events, identity="t1")


XML = "<domain><name>{}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu></domain>"


@pytest.fixture
def cluster(cluster_store: ClusterStore) -> ClusterStore:
    res = NodeResources(memory_total=4096, memory_used=512)
    with cluster_store.batch() as b:
        for name in ("hv1", "hv2"):
            b.put_node(NodeRecord(name, RUN, resources=res, keepalive=time.time() - 60), None)
        b.put_vm(VMRecord("vm1", XML.format("vm1"), node="hv1"), None)
    FenceTree(cluster_store).ensure()
    return cluster_store


def test_fence_record_round_trip(cluster: ClusterStore) -> None:
    tree = FenceTree(cluster)
    rec = FenceRecord("hv1", FenceState.FENCED, 1.5, 1.0, "t1", steps=(RecoveryStep("vm1", "hv2"),))
    with cluster.batch() as b:
        tree.put(b, rec, None)
    found = tree.get("hv1")
    assert found is not None and found.record == rec
    assert tree.update("hv1", lambda r: r.with_step("vm1", state=StepState.DONE)).step("vm1").state is StepState.DONE  # type: ignore[union-attr]


def test_no_bmc_means_fence_failed_and_nothing_moves(cluster: ClusterStore) -> None:
    """hv1 has no session and an old keepalive: declared dead; with no BMC configured its fence
    fails (recorded, event, backoff) and vm1 stays where it was."""
    events = Events()
    ctx = context(cluster, events)
    verdict = find_dead((n.record for n in cluster.nodes()), cluster.alive(), cluster.config().record, time.time())
    assert sorted(d.node for d in verdict.dead) == ["hv1", "hv2"]
    fencer = Fencer(ctx, FenceSection(retry_delay=2.0))
    dead = next(d for d in verdict.dead if d.node == "hv1")
    assert fencer.declare(dead) is not None
    assert fencer.declare(dead) is None  # never the same node twice
    assert cluster.node("hv1").record.daemon_state is DaemonState.DEAD
    rec = fencer.fence("hv1")
    assert rec is not None and rec.state is FenceState.FENCE_FAILED and rec.attempts == 1 and rec.steps == ()
    assert "no BMC configured for hv1" in rec.error and rec.next_attempt - time.time() > 1.5
    assert cluster.node("hv1").record.daemon_state is DaemonState.FENCE_FAILED
    assert cluster.vm("vm1").record.node == "hv1"
    assert events.tags() == ["pvc/node/hv1/dead", "pvc/node/hv1/fence-failed"]
    # what an operator sees: the state in the list, the reason and the next try in the detail
    from click.testing import CliRunner

    from pvc.cli.main import cli

    zk = ["--zk", ",".join(f"{h}:{p}" for h, p in cluster.client.zk.hosts), "--zk-root", cluster.schema.root]
    listed = CliRunner().invoke(cli, ["node", "list", *zk, "--out", "json"], catch_exceptions=False)
    assert {n["name"]: n["state"] for n in json.loads(listed.output)}["hv1"] == "fence-failed"
    info = CliRunner().invoke(cli, ["node", "info", "hv1", *zk], catch_exceptions=False)
    assert "Last fence: fence-failed, attempt 1, next try in " in info.output and "no BMC configured" in info.output
    # return to service is explicit, and only once the node is back
    with pytest.raises(StateError, match="hv1 is fence-failed and has no live session: power it on"):
        unfence(context(cluster, events), "hv1")


def test_unanswering_bmc_is_not_confirmed(cluster: ClusterStore, tmp_path: Any) -> None:
    """A BMC address where nothing answers: not confirmed within the bound, fence-failed."""
    pw = tmp_path / "pw"
    pw.write_text("secret")
    pw.chmod(0o600)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:  # a UDP port that never answers
        sink.bind(("127.0.0.1", 0))
        port = sink.getsockname()[1]
        cfg = FenceSection(bmc={"hv2": {"host": "127.0.0.1", "port": port, "user": "admin",
                                        "password_file": str(pw)}}, confirm_timeout=3.0)
        events = Events()
        fencer = Fencer(context(cluster, events), cfg)
        hv2 = cluster.node("hv2").record
        verdict = find_dead([hv2], set(), cluster.config().record, time.time())
        assert fencer.declare(verdict.dead[0]) is not None
        t0 = time.monotonic()
        rec = fencer.fence("hv2")
        took = time.monotonic() - t0
    assert rec is not None and rec.state is FenceState.FENCE_FAILED, rec
    assert took < 3.0 + 5.5, took  # the confirm bound (plus one ipmitool call in flight)
    assert "secret" not in rec.error and "127.0.0.1" in rec.error


def test_node_back_before_power_off_cancels(cluster: ClusterStore) -> None:
    events = Events()
    fencer = Fencer(context(cluster, events), FenceSection())
    verdict = find_dead([cluster.node("hv1").record], set(), cluster.config().record, time.time())
    assert fencer.declare(verdict.dead[0]) is not None
    ka = NodeKeepalive(cluster, "hv1", lambda: NodeResources(memory_total=4096), interval=0.5)
    ka.start()  # the node is back: session and a fresh keepalive (its fence state kept meanwhile)
    try:
        assert cluster.node("hv1").record.daemon_state is DaemonState.DEAD
        rec = fencer.fence("hv1")
        assert rec is not None and rec.state is FenceState.CANCELLED
        assert cluster.node("hv1").record.daemon_state is RUN
        assert events.tags()[-1] == "pvc/node/hv1/fence-cancelled"
    finally:
        ka.stop()


def test_plan_leaves_unplaceable_vms_stopped(cluster: ClusterStore) -> None:
    big = XML.format("big").replace("256", "100000")
    with cluster.batch() as b:
        b.put_vm(VMRecord("big", big, node="hv1"), None)
    ka = NodeKeepalive(cluster, "hv2", lambda: NodeResources(memory_total=4096, memory_used=512), interval=0.5)
    ka.start()
    try:
        steps = {s.vm: s for s in plan_steps(cluster, "hv1")}
    finally:
        ka.stop()
    assert steps["vm1"] == RecoveryStep("vm1", "hv2")
    assert steps["big"].state is StepState.UNPLACED and "needs 100000 MiB" in steps["big"].error
    assert dataclasses.replace(steps["big"], error="").target == ""


def test_failed_fence_migrate_policy_plans_the_moves(cluster: ClusterStore) -> None:
    """``failed_fence: migrate``: an unconfirmed fence still plans vm1's move (the monitor then
    carries it out); the default (none) plans nothing, as tested above."""
    from pvc.cluster.records import FailedFencePolicy

    current = cluster.config()
    with cluster.batch() as b:
        b.put_config(dataclasses.replace(current.record, failed_fence=FailedFencePolicy.MIGRATE), current.version)
    ka = NodeKeepalive(cluster, "hv2", lambda: NodeResources(memory_total=4096, memory_used=512), interval=0.5)
    ka.start()
    try:
        events = Events()
        fencer = Fencer(context(cluster, events), FenceSection())
        verdict = find_dead([cluster.node("hv1").record], set(), cluster.config().record, time.time())
        assert fencer.declare(verdict.dead[0]) is not None
        rec = fencer.fence("hv1")
    finally:
        ka.stop()
    assert rec is not None and rec.state is FenceState.FENCE_FAILED
    assert rec.steps == (RecoveryStep("vm1", "hv2"),)
    assert events.seen[-1][1]["vms_moved"] is True
