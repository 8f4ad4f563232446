"""The mine over the sealed channel: what a minion tells its master, what it may ask back.

Salt's mine: minions run their ``mine_functions`` and send the results to their master, which
keeps the newest per minion and function; a template or job on any minion reads them with
``mine.get(tgt, fun)``. A minion can only write its own entries (the sealed channel binds the
sender's id) and only read; nothing here can start a job anywhere. Each request carries a
``rid`` (the minion's counter) and gets one :class:`MineData` answer with the same ``rid``.
An entry may say who may read it (``allow_tgt``, Salt's option of the same name).

Example::

    MineUpdate(rid=3, entries=[MineEntry("grains.items", {"os": "Debian"})])   # minion -> master
    MineGet(rid=4, tgt="hv*", funs=["grains.items"])                           # minion -> master
    MineData(rid=4, data={"grains.items": {"hv1": {"os": "Debian"}}})          # master -> minion
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pvc.wire.files import MAX_ERROR
from pvc.wire.record import Record, f, record

MAX_FUN = 256       # a mine function's name (Salt's key under mine_functions)
MAX_FUNS = 256      # entries one minion sends or deletes at once
MAX_GET_FUNS = 16   # functions one mine.get asks for
MAX_TGT = 4096
MAX_TGT_TYPE = 16
BUSY = "mine busy: try again"


@record("mine_entry")
@dataclass(frozen=True)
class MineEntry(Record):
    """The newest result of one mine function (any plain data the codec admitted)."""

    fun: str = f(max=MAX_FUN)
    data: Any = f(default=None)
    allow_tgt: str = f(default="", max=MAX_TGT)   # "" : every minion may read it
    allow_tgt_type: str = f(default="glob", max=MAX_TGT_TYPE)


@record("mine_update")
@dataclass(frozen=True)
class MineUpdate(Record):
    """Store these entries for the sender; ``clear``: they replace all it had."""

    rid: int = f(lo=0, hi=2**53)
    entries: list[MineEntry] = f(default=(), max=MAX_FUNS)
    clear: bool = f(default=False)


@record("mine_delete")
@dataclass(frozen=True)
class MineDelete(Record):
    """Forget the sender's entries ``funs`` (``flush``: all of them)."""

    rid: int = f(lo=0, hi=2**53)
    funs: list[str] = f(default=(), max=MAX_FUNS, item_max=MAX_FUN)
    flush: bool = f(default=False)


@record("mine_get")
@dataclass(frozen=True)
class MineGet(Record):
    """The entries ``funs`` of the minions ``tgt`` matches (Salt's target types)."""

    rid: int = f(lo=0, hi=2**53)
    tgt: str = f(max=MAX_TGT)
    tgt_type: str = f(default="glob", max=MAX_TGT_TYPE)
    funs: list[str] = f(default=(), max=MAX_GET_FUNS, item_max=MAX_FUN)


@record("mine_data")
@dataclass(frozen=True)
class MineData(Record):
    """The answer: for a get, ``{fun: {minion: data}}``; for the others, empty. ``error`` is ""
    when all went well."""

    rid: int = f(lo=0, hi=2**53)
    data: dict[str, Any] = f(default={})
    error: str = f(default="", max=MAX_ERROR)


REQUESTS = (MineUpdate, MineDelete, MineGet)
MineRequest = MineUpdate | MineDelete | MineGet
