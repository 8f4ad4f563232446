"""Messages between local clients (CLI, Python API) and the master, over a 0700 IPC socket.

Filesystem permissions on the socket directory are the authentication here (like Salt's
``sock_dir``): only root (or the master's user) can connect. Requests and replies are still
typed records decoded totally, because a bug in a client must not crash the master, and a
hostile minion's return must not crash a client.

Example::

    sock.send(PublishReq("web*", "glob", "test.ping", [], {}, 5.0, True).encode())
    reply = REPLIES.decode_message(sock.recv(), max_size)     # Published | RetReply | ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pvc.errors import InvalidArgument
from pvc.wire.codec import decode
from pvc.wire.inner import MAX_JID, ReturnRec
from pvc.wire.messages import MAX_ID, Outer
from pvc.wire.record import Kinds, Record, f, record

CLIENT_SOCKET = "client.ipc"
PID_FILE = "master.pid"  # beside the socket: tells "not running" from "not answering"
_FUN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_TGT = 8192


def validate_fun(fun: str) -> str:
    if not isinstance(fun, str) or not _FUN_RE.match(fun):
        raise InvalidArgument(f"'{fun}' is not a function name: use module.function, e.g. test.ping")
    return fun


# -- requests -----------------------------------------------------------------------------------

@record("publish")
@dataclass(frozen=True)
class PublishReq(Outer):
    tgt: str = f(max=MAX_TGT)
    tgt_type: str = f(max=16)
    fun: str = f(max=256)
    args: list[Any] = f()
    kwargs: dict[str, Any] = f()
    timeout: float = f(lo=0, hi=86400)
    stream: bool = f(default=True)

    def __post_init__(self) -> None:
        validate_fun(self.fun)
        if not 0 < self.timeout <= 86400:
            raise InvalidArgument("timeout must be between 0 and 86400 seconds")


@record("job_get")
@dataclass(frozen=True)
class JobGet(Outer):
    jid: str = f(max=MAX_JID)


@record("job_list")
@dataclass(frozen=True)
class JobList(Outer):
    limit: int = f(default=50, lo=1, hi=10_000)
    fun: str = f(default="", max=256)


@record("keys_changed")
@dataclass(frozen=True)
class KeysChanged(Outer):
    pass


@record("event_fire")
@dataclass(frozen=True)
class EventFire(Outer):
    tag: str = f(max=512)
    data: dict[str, Any] = f()


@record("expected")
@dataclass(frozen=True)
class ExpectedReq(Outer):
    tgt: str = f(max=MAX_TGT)
    tgt_type: str = f(max=16)


@record("ping")
@dataclass(frozen=True)
class Ping(Outer):
    pass


@record("job_kill")
@dataclass(frozen=True)
class JobKill(Outer):
    jid: str = f(max=MAX_JID)


@record("status")
@dataclass(frozen=True)
class StatusReq(Outer):
    tgt: str = f(default="*", max=MAX_TGT)
    tgt_type: str = f(default="glob", max=16)


@record("job_active")
@dataclass(frozen=True)
class JobActive(Outer):
    tgt: str = f(default="*", max=MAX_TGT)
    tgt_type: str = f(default="glob", max=16)


# -- replies ------------------------------------------------------------------------------------

@record("published")
@dataclass(frozen=True)
class Published(Outer):
    jid: str = f(max=MAX_JID)
    minions: list[str] = f(item_max=MAX_ID)
    missing: dict[str, str] = f(default={})


@record("ret")
@dataclass(frozen=True)
class RetReply(Outer):
    jid: str = f(max=MAX_JID)
    id: str = f(max=MAX_ID)
    ret: ReturnRec = f()


@record("done")
@dataclass(frozen=True)
class Done(Outer):
    jid: str = f(max=MAX_JID)
    missing: dict[str, str] = f(default={})


@record("stored")
@dataclass(frozen=True)
class StoredRet(Record):
    ret: ReturnRec = f()
    received: float = f(lo=0)


@record("job")
@dataclass(frozen=True)
class JobView(Outer):
    """One job as ``pvc job show`` sees it: who returned what, who did not and why, who is
    still running."""

    jid: str = f(max=MAX_JID)
    fun: str = f(max=256)
    args: list[Any] = f()
    kwargs: dict[str, Any] = f()
    tgt: str = f(max=MAX_TGT)
    tgt_type: str = f(max=16)
    minions: list[str] = f(item_max=MAX_ID)
    started: float = f(lo=0)
    timeout: float = f(lo=0)
    returns: dict[str, StoredRet] = f(default={})
    missing: dict[str, str] = f(default={})
    running: list[str] = f(default=(), item_max=MAX_ID)


@record("summary")
@dataclass(frozen=True)
class JobSummary(Record):
    """One line of ``pvc job list``."""

    jid: str = f(max=MAX_JID)
    fun: str = f(max=256)
    tgt: str = f(max=MAX_TGT)
    tgt_type: str = f(max=16)
    started: float = f(lo=0)
    minions: int = f(lo=0)
    returned: int = f(lo=0)
    failed: int = f(lo=0)


@record("jobs")
@dataclass(frozen=True)
class JobsReply(Outer):
    jobs: list[JobSummary] = f()


@record("ok")
@dataclass(frozen=True)
class Ok(Outer):
    revoked: list[str] = f(default=(), item_max=MAX_ID)


@record("error")
@dataclass(frozen=True)
class ErrorReply(Outer):
    message: str = f(max=65536)
    type: str = f(max=128)


@record("minions")
@dataclass(frozen=True)
class Minions(Outer):
    minions: list[str] = f(item_max=MAX_ID)
    connected: list[str] = f(item_max=MAX_ID)


@record("active_row")
@dataclass(frozen=True)
class ActiveRow(Record):
    """One job running on one minion, as its last heartbeat said."""

    id: str = f(max=MAX_ID)
    jid: str = f(max=MAX_JID)
    fun: str = f(max=256)
    age: float = f(lo=0)


@record("active")
@dataclass(frozen=True)
class ActiveReply(Outer):
    rows: list[ActiveRow] = f()


@record("minion_status")
@dataclass(frozen=True)
class MinionStatus(Record):
    """One accepted minion as the master sees it now."""

    id: str = f(max=MAX_ID)
    connected: bool = f()
    last_seen: float = f(default=-1.0)   # seconds ago; -1: not since the master started
    clock_skew: float = f(default=0.0)   # its clock minus the master's, seconds
    jobs: int = f(default=0, lo=0)       # running now
    vms: int = f(default=0, lo=0)        # held (from its heartbeats)


@record("statuses")
@dataclass(frozen=True)
class StatusReply(Outer):
    minions: list[MinionStatus] = f()


@record("kill_sent")
@dataclass(frozen=True)
class KillSent(Outer):
    """The minions a kill was sent to (those whose last heartbeat said they run the job)."""

    jid: str = f(max=MAX_JID)
    minions: list[str] = f(item_max=MAX_ID)


class OuterKinds(Kinds):
    """A table of outer records (tagged ``k``), decoded straight from bytes."""

    def __init__(self, classes: list[type[Record]]) -> None:
        super().__init__(classes, tag_key="k")
        self.names = frozenset(self.table)

    def decode_message(self, data: bytes, max_size: int) -> Record:
        return self.decode(decode(data, self.names, max_size))


REQUESTS = OuterKinds([PublishReq, JobGet, JobList, KeysChanged, EventFire, ExpectedReq, Ping, JobKill, JobActive,
                       StatusReq])
REPLIES = OuterKinds([Published, RetReply, Done, JobView, JobsReply, Ok, ErrorReply, Minions, ActiveReply, KillSent,
                      StatusReply])
