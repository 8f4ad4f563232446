"""pvc.master.inbox: what the master does with each body a minion sends; which events a
minion may fire (about itself, about the VMs its heartbeat lists), stamped with its id."""

from __future__ import annotations

from typing import Any

import pytest

from pvc import events
from pvc.master.inbox import Inbox
from pvc.master.sessions import Session
from pvc.wire.inner import (
    UP,
    Bye,
    EventMsg,
    Grains,
    Heartbeat,
    Lost,
    Pong,
    Ret,
    ReturnRec,
)
from pvc.wire.record import Record
from pvc.wire.sealed import Channel


class FakeReturns:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Record]] = []

    def on_return(self, mid: str, msg: Ret) -> None:
        self.calls.append(("ret", mid, msg))

    def on_lost(self, mid: str, msg: Lost) -> None:
        self.calls.append(("lost", mid, msg))


class Box:
    def __init__(self) -> None:
        self.returns = FakeReturns()
        self.grains: dict[str, dict[str, Any]] = {}
        self.replies: list[tuple[Session, Record]] = []
        self.fired: list[tuple[str, dict]] = []
        self.ended: list[tuple[str, str]] = []
        self.inbox = Inbox(self.returns, self.grains, lambda s, r: self.replies.append((s, r)),  # type: ignore[arg-type]
                           lambda tag, data: self.fired.append((tag, data)),
                           lambda mid, why: self.ended.append((mid, why)))
        self.session = Session(Channel("hv1", b"k" * 32), b"pub")

    def send(self, body: Record, mid: str = "hv1") -> None:
        self.inbox.handle(mid, self.session, body)


@pytest.fixture
def box() -> Box:
    return Box()


def test_every_up_kind_has_a_handler(box: Box) -> None:
    assert set(box.inbox.table) == set(UP.table.values())


@pytest.mark.parametrize("tag", [events.minion("hv1", "custom"), events.virt_connected("hv1"),
                                 events.beacon("hv1", "load"), "pvc/minion/hv1/a/b/c"])
def test_events_about_itself_allowed(box: Box, tag: str) -> None:
    box.send(EventMsg(tag, {"x": 1}))
    assert box.fired == [(tag, {"x": 1, "_minion": "hv1"})] and box.inbox.refused_events == 0


@pytest.mark.parametrize("tag", [events.minion("hv2", "start"), events.virt_connected("hv2"),
                                 events.beacon("hv2", "load"), events.node("hv1", "dead"), events.AUTH,
                                 events.job_new("2026"), events.job_ret("2026", "hv1"), "pvc/minion/hv1",
                                 "pvc/minion//x", "other/minion/hv1/x", "pvc/minion/hv1/\x00", "",
                                 "pvc/minion/hv1/" + "x" * 200, "pvc/vm/web1/started"])
def test_events_about_others_refused(box: Box, tag: str) -> None:
    box.send(EventMsg(tag, {"x": 1}))
    assert box.fired == [] and box.inbox.refused_events == 1


def test_vm_events_only_for_vms_the_heartbeat_listed(box: Box) -> None:
    started = events.vm("web1", "started")
    box.send(EventMsg(started, {}))
    assert box.fired == []
    box.send(Heartbeat(["web1", "web2"]))
    box.send(EventMsg(started, {}))
    box.send(EventMsg(events.vm("web3", "started"), {}))
    assert box.fired == [(started, {"_minion": "hv1"})] and box.inbox.refused_events == 2
    box.send(Heartbeat(["web2"]))  # web1 migrated away
    box.send(EventMsg(events.vm("web1", "stopped"), {}))
    assert len(box.fired) == 1 and box.inbox.refused_events == 3


def test_vm_ownership_is_per_session() -> None:
    a, b = Box(), Box()
    a.send(Heartbeat(["web1"]))
    b.send(EventMsg(events.vm("web1", "started"), {}), mid="hv2")
    assert b.fired == []


def test_the_master_stamps_the_sender_over_the_data(box: Box) -> None:
    box.send(EventMsg(events.beacon("hv1", "x"), {"_minion": "hv2", "id": "hv2"}))
    assert box.fired == [(events.beacon("hv1", "x"), {"_minion": "hv1", "id": "hv2"})]


def test_heartbeat_answers_with_the_masters_clock(box: Box) -> None:
    box.send(Heartbeat(["web1"]))
    [(session, pong)] = box.replies
    assert session is box.session and isinstance(pong, Pong) and pong.mtime > 1_700_000_000
    assert box.session.vms == frozenset({"web1"})
    assert pong.every == 0.0  # no pace given: the minion beats as configured


def test_heartbeat_answer_carries_the_fleet_pace() -> None:
    """The pong tells the minion how often to beat, and the session remembers what it was told
    (its liveness window follows it: pvc.master.sessions)."""
    box = Box()
    box.inbox.pace = lambda: 7.5
    box.send(Heartbeat([]))
    [(_, pong)] = box.replies
    assert isinstance(pong, Pong) and pong.every == 7.5 and box.session.every == 7.5


def test_returns_and_lost_go_to_the_collector(box: Box) -> None:
    ret, lost = Ret("j1", ReturnRec(True, 1)), Lost("j2", "restarted")
    box.send(ret)
    box.send(lost)
    assert box.returns.calls == [("ret", "hv1", ret), ("lost", "hv1", lost)]


def test_grains_and_bye(box: Box) -> None:
    box.send(Grains({"os": "Debian"}))
    assert box.grains == {"hv1": {"os": "Debian"}}
    box.send(Bye())
    assert box.ended == [("hv1", "said goodbye")]
