"""What travels inside a sealed box: one typed record per kind, dispatched by a table.

Minion -> master (``UP``): a job's return, a heartbeat (with the VMs the minion holds), an
event, its grains, a job lost to a restart, goodbye, and requests for files, pillar and the
mine. Master -> minion (``DOWN``): acks of stored returns, a new session key, a heartbeat
answer with the master's clock, a job sealed to this minion alone (list targets), and the
answers to its requests (:data:`ANSWERS`, matched by ``rid``).

Example::

    body = UP.decode(unpack(plain))          # -> Ret | Heartbeat | EventMsg | ...
    if isinstance(body, Ret): ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pvc.events import MAX_TAG
from pvc.results import Return
from pvc.wire.files import ANSWERS as FILE_ANSWERS
from pvc.wire.files import FileData, FileReq, Listing, ListReq, PillarData, PillarReq
from pvc.wire.messages import MAX_ID, Job
from pvc.wire.mine import MineData, MineDelete, MineGet, MineUpdate
from pvc.wire.record import Kinds, Record, f, record

MAX_JID = 64


@record("return")
@dataclass(frozen=True)
class ReturnRec(Record):
    """A :class:`~pvc.results.Return` on the wire: every field typed, numbers finite."""

    ok: bool = f()
    data: Any = f(default=None)
    error: str = f(default="", max=65536)
    error_type: str = f(default="", max=128)
    duration: float = f(default=0.0, lo=0)

    def value(self) -> Return:
        return Return(self.ok, self.data, self.error, self.error_type, self.duration)

    @classmethod
    def of(cls, ret: Return) -> ReturnRec:
        return cls(ret.ok, ret.data, ret.error, ret.error_type, ret.duration)


@record("ret")
@dataclass(frozen=True)
class Ret(Record):
    jid: str = f(max=MAX_JID)
    ret: ReturnRec = f()


@record("running")
@dataclass(frozen=True)
class RunningJob(Record):
    """A job a minion runs: for ``pvc job active`` and "still running" at the deadline."""

    jid: str = f(max=MAX_JID)
    fun: str = f(max=256)
    age: float = f(lo=0)


@record("hb")
@dataclass(frozen=True)
class Heartbeat(Record):
    """I am alive; the VMs I hold; the jobs I am running."""

    vms: list[str] = f(default=(), max=4096, item_max=MAX_ID)
    running: list[RunningJob] = f(default=(), max=4096)
    now: float = f(default=0.0, lo=0)  # the minion's wall clock: the master measures the skew


@record("event")
@dataclass(frozen=True)
class EventMsg(Record):
    tag: str = f(max=MAX_TAG)
    data: dict[str, Any] = f()


@record("grains")
@dataclass(frozen=True)
class Grains(Record):
    grains: dict[str, Any] = f()


@record("lost")
@dataclass(frozen=True)
class Lost(Record):
    """A job this minion received but never finished (it restarted meanwhile)."""

    jid: str = f(max=MAX_JID)
    reason: str = f(max=256)


@record("bye")
@dataclass(frozen=True)
class Bye(Record):
    pass


@record("ack")
@dataclass(frozen=True)
class Ack(Record):
    jids: list[str] = f(max=100_000, item_max=MAX_JID)


@record("rekey")
@dataclass(frozen=True)
class Rekey(Record):
    kid: int = f(lo=0, hi=2**63)
    key: bytes = f(size=32)


@record("pong")
@dataclass(frozen=True)
class Pong(Record):
    """The master's clock, and how often it wants this minion's heartbeats (0: as configured).

    The master paces its whole fleet to a budget of heartbeats per second, so the interval
    grows with the number of minions instead of the heartbeat load growing without bound."""

    mtime: float = f(lo=0)
    every: float = f(default=0.0, lo=0, hi=3600)


@record("jobbox")
@dataclass(frozen=True)
class JobBox(Record):
    job: Job = f()


@record("kill")
@dataclass(frozen=True)
class Kill(Record):
    """End this job here (``pvc job kill``): its return then says so."""

    jid: str = f(max=MAX_JID)


UP = Kinds([Ret, Heartbeat, EventMsg, Grains, Lost, Bye, FileReq, ListReq, PillarReq,  # files: pvc.wire.files
           MineUpdate, MineDelete, MineGet])  # the mine: pvc.wire.mine
DOWN = Kinds([Ack, Rekey, Pong, JobBox, Kill, FileData, Listing, PillarData, MineData])
ANSWERS = (*FILE_ANSWERS, MineData)  # what a job waits for by rid (pvc.minion.masterlink)
