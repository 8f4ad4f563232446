"""What the reactor plans for an event: matching, each action once, loop depth, rate limit."""

from __future__ import annotations

from typing import Any

from pvc.reactor.config import parse_reactor
from pvc.reactor.engine import Reactor
from pvc.reactor.limits import Lineage, RateLimit, Recent
from pvc.reactor.render import Renderer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reactor(raw: list[Any], clock: Clock | None = None) -> Reactor:
    renderer = Renderer()
    return Reactor(parse_reactor(raw, renderer), renderer, clock or Clock())


def test_matching_rule_renders_each_action() -> None:
    r = reactor([{"pvc/node/*/dead": [
        {"notify": {"message": "node {{ parts[2] }} is dead", "level": "error"}},
        {"job": {"tgt": "{{ parts[2] }}", "tgt_type": "list", "fun": "test.arg", "args": ["{{ data.why }}"]}},
        {"state": {"tgt": "hv*", "sls": "fence.notice"}},
        {"runner": {"name": "vm.list", "kwargs": {"node": "{{ parts[2] }}"}}}]}])
    steps = r.plan("pvc/node/hv2/dead", {"why": "keepalive"}, 1.0)
    assert [(s.kind, s.index) for s in steps] == [("notify", 0), ("job", 1), ("state", 2), ("runner", 3)]
    assert steps[0].fields == {"message": "node hv2 is dead", "level": "error"}
    assert steps[1].fields == {"tgt": "hv2", "tgt_type": "list", "fun": "test.arg", "args": ["keepalive"],
                               "kwargs": {}, "timeout": 0.0}
    assert steps[2].fields["fun"] == "state.apply" and steps[2].fields["args"] == ["fence.notice"]
    assert steps[3].fields == {"name": "vm.list", "args": [], "kwargs": {"node": "hv2"}}
    assert steps[0].report() == {"trigger": "pvc/node/hv2/dead", "action": 0, "depth": 0,
                                 "message": "node hv2 is dead", "level": "error"}
    assert r.plan("pvc/node/hv2/fenced", {}, 2.0) == []


def test_each_event_is_planned_once() -> None:
    r = reactor([{"pvc/x/*": [{"notify": {"message": "m"}}]}])
    assert len(r.plan("pvc/x/a", {}, 5.0)) == 1
    assert r.plan("pvc/x/a", {}, 5.0) == []       # the same event delivered again
    assert len(r.plan("pvc/x/a", {}, 6.0)) == 1   # a new one


def test_own_events_never_trigger() -> None:
    r = reactor([{"*": [{"notify": {"message": "m"}}]}])
    assert r.plan("pvc/reactor/rule-1/notify", {}, 1.0) == []


def test_a_render_error_is_a_failed_step_and_the_other_actions_run() -> None:
    r = reactor([{"pvc/x": [{"notify": {"message": "{{ data.missing }}"}}, {"notify": {"message": "ok"}}]}])
    failed, ok = r.plan("pvc/x", {}, 1.0)
    assert failed.kind == "failed" and failed.fields["of"] == "notify" and "missing" in failed.fields["error"]
    assert ok.kind == "notify"


def test_job_events_of_the_reactors_own_jobs_are_deeper_until_the_bound() -> None:
    """A rule that reacts to every new job and publishes a job: the chain stops at max_depth."""
    r = reactor([{"tag": "pvc/job/*/new", "max_depth": 3, "actions": [{"job": {"tgt": "*", "fun": "test.ping"}}]}])
    tag, jid, published = "pvc/job/J0/new", 0, []
    while True:
        steps = r.plan(tag, {}, float(jid))
        (step,) = steps
        if step.kind != "job":
            break
        jid += 1
        r.published(f"J{jid}", step)
        published.append(jid)
        tag = f"pvc/job/J{jid}/new"
    assert published == [1, 2, 3]
    assert step.kind == "loop" and step.depth == 3 and step.fields == {"max_depth": 3}


def test_rate_limit_reports_once_per_burst_and_refills() -> None:
    clock = Clock()
    r = reactor([{"tag": "pvc/x", "max_per_minute": 2, "actions": [{"notify": {"message": "m"}}]}], clock)
    kinds = [s.kind for i in range(6) for s in r.plan("pvc/x", {}, float(i))]
    assert kinds == ["notify", "notify", "throttled"]
    clock.now += 30.0  # one token back
    assert [s.kind for s in r.plan("pvc/x", {}, 10.0)] == ["notify"]
    assert [s.kind for s in r.plan("pvc/x", {}, 11.0)] == ["throttled"]


def test_prefixes_cover_every_rule() -> None:
    r = reactor([{"pvc/node/*/dead": [{"notify": {"message": "m"}}]},
                 {"pvc/beacon/*": [{"notify": {"message": "m"}}]}, {"pvc/beacon/hv1/d?sk": [{"notify": {"message": "m"}}]}])
    assert r.prefixes() == ["pvc/beacon/", "pvc/node/"]


def test_bounded_memories() -> None:
    lineage = Lineage(capacity=2)
    for jid in ("a", "b", "c"):
        lineage.record(jid, 1)
    assert [lineage.depth(f"pvc/job/{j}/new") for j in "abc"] == [0, 1, 1]
    assert lineage.depth("pvc/node/b/dead") == 0
    recent = Recent(capacity=2)
    assert [recent.add(k) for k in ("a", "a", "b", "c", "a")] == [True, False, True, True, True]
    clock = Clock()
    limit = RateLimit(60, clock)
    assert sum(limit.take() for _ in range(100)) == 60
    clock.now += 1000
    assert sum(limit.take() for _ in range(100)) == 60  # refilled to the capacity, not beyond
