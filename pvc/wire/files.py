"""Files and pillar over the sealed channel: what a minion asks the master, and the answers.

A minion asks with a request id (``rid``, its own counter) and the master answers with the same
id, so a job's thread can wait for its answer while the loop carries other traffic. Files come
in chunks of at most :data:`CHUNK` bytes; the first request carries the hash the minion already
holds (``have``) and the answer is then just "same" when nothing changed -- a second highstate
moves only what changed. Pillar is rendered by the master for this minion alone and travels in
its box only.

Example::

    FileReq(rid=7, path="motd/init.sls", have="")      # minion -> master
    FileData(rid=7, hash="ab12...", size=120, data=b"...")  # master -> minion
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pvc.wire.record import Record, f, record

CHUNK = 256 * 1024
MAX_PATH = 1024
MAX_ENV = 64
MAX_FILES = 20_000
MAX_ERROR = 1024


@record("file_req")
@dataclass(frozen=True)
class FileReq(Record):
    """``path`` from ``offset``; ``have``: the hash the minion's cache holds (offset 0), or the
    hash of the version being transferred (later chunks: a change meanwhile is an error)."""

    rid: int = f(lo=0, hi=2**53)
    path: str = f(max=MAX_PATH + 16)
    saltenv: str = f(default="base", max=MAX_ENV)
    offset: int = f(default=0, lo=0, hi=2**53)
    have: str = f(default="", max=64)


@record("file_list_req")
@dataclass(frozen=True)
class ListReq(Record):
    """The files (or, with ``dirs``, the directories) under ``prefix``."""

    rid: int = f(lo=0, hi=2**53)
    prefix: str = f(default="", max=MAX_PATH + 16)
    saltenv: str = f(default="base", max=MAX_ENV)
    dirs: bool = f(default=False)


@record("pillar_req")
@dataclass(frozen=True)
class PillarReq(Record):
    rid: int = f(lo=0, hi=2**53)
    saltenv: str = f(default="base", max=MAX_ENV)


@record("file_data")
@dataclass(frozen=True)
class FileData(Record):
    """A chunk, or ``same`` (the minion's copy is current), or ``error`` ("" when fine;
    ``missing`` when there is no such file)."""

    rid: int = f(lo=0, hi=2**53)
    hash: str = f(default="", max=64)
    size: int = f(default=0, lo=0, hi=2**53)
    offset: int = f(default=0, lo=0, hi=2**53)
    data: bytes = f(default=b"", max=CHUNK)
    same: bool = f(default=False)
    error: str = f(default="", max=MAX_ERROR)


@record("file_list")
@dataclass(frozen=True)
class Listing(Record):
    rid: int = f(lo=0, hi=2**53)
    paths: list[str] = f(default=(), max=MAX_FILES, item_max=MAX_PATH)
    error: str = f(default="", max=MAX_ERROR)


@record("pillar")
@dataclass(frozen=True)
class PillarData(Record):
    rid: int = f(lo=0, hi=2**53)
    pillar: dict[str, Any] = f(default={})
    error: str = f(default="", max=MAX_ERROR)


MISSING = "missing"
BUSY = "file server busy: try again"  # the master's queue is full: ask again a little later
REQUESTS = (FileReq, ListReq, PillarReq)
ANSWERS = (FileData, Listing, PillarData)
FileRequest = FileReq | ListReq | PillarReq
FileAnswer = FileData | Listing | PillarData
