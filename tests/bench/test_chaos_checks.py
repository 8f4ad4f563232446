"""The chaos run's invariant checks on made-up evidence: each one must fire on the violation it
names and stay quiet on a correct fence (the lab runs only ever show the quiet side)."""

from __future__ import annotations

import dataclasses

from bench.chaos_checks import Evidence, Violation, check, extra_boots, parse_bmc_log, started_by
from bench.chaos_faults import Step
from bench.chaos_report import death_to_running, summarise
from bench.chaos_watch import Seen, Sight
from pvc.cluster.records import VMRecord
from pvc.runners.fencetree import FenceRecord, FenceState, RecoveryStep, StepState

T0 = 1000.0
HANG = Step("hang", ("hv1",), T0, may_fence=frozenset({"hv1"}), moved=("a",))
FENCE = FenceRecord("hv1", FenceState.RECOVERED, detected=T0 + 5, owner="c1", attempts=1, confirmed=T0 + 6,
                    steps=(RecoveryStep("a", "hv2", state=StepState.DONE, attempts=1, done_at=T0 + 7),))
QUIET = Sight(double_runs=[], moves=[Seen(T0 + 7.2, "a", ("hv2",))], fencers=[], samples=40)


def evidence(fences: dict[str, FenceRecord] | None = None, homes: dict[str, list[str]] | None = None,
             deaths: list[float] | None = None, **vm: VMRecord | None) -> Evidence:
    return Evidence(fences={"hv1": FENCE} if fences is None else fences,
                    deaths={"hv1": [T0 + 5.8] if deaths is None else deaths}, off_orders={},
                    homes={"a": ["hv2"]} if homes is None else homes,
                    vms=vm or {"a": VMRecord("a", "<domain/>", node="hv2", last_node="hv1")})


def kinds(found: list[Violation]) -> list[str]:
    return sorted(v.invariant for v in found)


def test_a_correct_fence_passes() -> None:
    assert check(HANG, QUIET, evidence()) == []


def test_double_run_seen_by_the_watcher() -> None:
    sight = dataclasses.replace(QUIET, double_runs=[Seen(T0 + 7, "a", ("hv1", "hv2"))])
    assert kinds(check(HANG, sight, evidence())) == ["double-run"]


def test_started_before_confirmed_off() -> None:
    early = dataclasses.replace(FENCE, steps=(dataclasses.replace(FENCE.steps[0], done_at=T0 + 5.5),))
    assert kinds(check(HANG, QUIET, evidence({"hv1": early}))) == ["early-start"]


def test_confirmed_off_but_the_bmc_never_killed_it() -> None:
    assert kinds(check(HANG, QUIET, evidence(deaths=[]))) == ["early-start"]
    assert kinds(check(HANG, QUIET, evidence(deaths=[T0 + 9]))) == ["early-start"]  # died after the confirmation


def test_seen_running_on_its_new_node_before_the_old_one_died() -> None:
    sight = dataclasses.replace(QUIET, moves=[Seen(T0 + 5.5, "a", ("hv2",))])
    assert kinds(check(HANG, sight, evidence())) == ["early-start"]


def test_recovered_without_a_confirmation() -> None:
    unconfirmed = dataclasses.replace(FENCE, confirmed=None)
    assert kinds(check(HANG, QUIET, evidence({"hv1": unconfirmed}))) == ["early-start"]


def test_fences_the_step_had_no_reason_for() -> None:
    zk = Step("zk-leader", (), T0)
    assert kinds(check(zk, QUIET, evidence())) == ["false-fence"]
    clean = Step("clean-stop", ("hv1",), T0, clean=frozenset({"hv1"}))
    assert kinds(check(clean, QUIET, evidence())) == ["clean-fenced"]
    no_record = dataclasses.replace(evidence({}), off_orders={"hv1": 1})
    assert kinds(check(clean, QUIET, no_record)) == ["clean-fenced"]
    old = dataclasses.replace(FENCE, detected=T0 - 50)  # a fence of an earlier step: not this one's
    assert check(zk, QUIET, evidence({"hv1": old})) == []


def test_two_fencers() -> None:
    sight = dataclasses.replace(QUIET, fencers=[Seen(T0 + 6, "", ("c1", "c2"))])
    assert kinds(check(HANG, sight, evidence())) == ["two-fencers"]


def test_lost_vms_and_the_legitimate_waits() -> None:
    assert kinds(check(HANG, QUIET, evidence(homes={}))) == ["lost"]
    assert kinds(check(HANG, QUIET, evidence(a=None))) == ["lost"]
    unplaced = dataclasses.replace(FENCE, steps=(RecoveryStep("a", state=StepState.UNPLACED, error="no room"),))
    assert check(HANG, QUIET, evidence({"hv1": unplaced}, homes={})) == []
    failed = FenceRecord("hv1", FenceState.FENCE_FAILED, detected=T0 + 5, error="BMC silent")
    waiting = evidence({"hv1": failed}, homes={}, a=VMRecord("a", "<domain/>", node="hv1"))
    assert check(HANG, QUIET, waiting) == []  # nothing may move while the fence is not confirmed


def test_bmc_log_parsing() -> None:
    text = ("990.000 set power 0\n1001.500 set power 0\n1001.900 power off: node dead after 12.0 ms\n"
            "some boot output\n1002.000 booted in 3.1 s\n")
    assert parse_bmc_log(text, T0) == [(1001.5, "set power 0"), (1001.9, "power off: node dead after 12.0 ms"),
                                       (1002.0, "booted in 3.1 s")]


def test_summary_times_a_dead_bmc_fault_from_its_bmc_answering() -> None:
    steps = [{"index": 0, "kind": "bmc-dead", "nodes": ["hv3"], "moved": ["a"], "recovery_s": 25.0,
              "notes": {"bmc_back_s": 15.0}, "error": "", "violations": []},
             {"index": 1, "kind": "repair", "nodes": [], "moved": [], "recovery_s": None, "notes": {}, "error": "",
              "violations": []},
             {"index": 2, "kind": "power", "nodes": ["hv2"], "moved": ["b", "c"], "recovery_s": 11.5, "notes": {},
              "error": "", "violations": ["step 2: lost: c runs nowhere"]}]
    assert death_to_running(steps[0]) == 10.0
    summary = summarise(steps)
    assert summary["faults"] == {"bmc-dead": 1, "power": 1} and summary["recoveries"] == 2
    assert summary["slowest_recovery"] == {"step": 2, "kind": "power", "nodes": ["hv2"], "seconds": 11.5}
    assert summary["recoveries_over_target"] == [] and summary["vms_recovered"] == 3
    assert summary["violations"] == ["step 2: lost: c runs nowhere"]


def test_boots_beyond_the_starts() -> None:
    back = dataclasses.replace(Step("repair", (), T0 + 20), notes={"rebooted_by_ready": ["b"]})
    assert started_by(HANG, evidence()) == ["a"]  # recovered by the fence this step opened
    assert started_by(back, evidence()) == ["b"]  # the fence is older than the repair
    assert extra_boots({"a": 2, "b": 1}, {"a": 2, "b": 1}) == []
    assert extra_boots({"a": 2}, {"a": 1}) == []  # not booted yet: pending, not a violation
    assert kinds(extra_boots({"a": 2, "b": 1}, {"a": 3, "b": 1})) == ["started-twice"]
