"""The state tree on a minion: files fetched from the master's file server, cached by content hash.

:class:`RemoteTree` implements :class:`~pvc.states.tree.StateTree` over the minion's sealed
channel (:class:`~pvc.execution.context.MasterLink`). Each file is kept under the link's cache
directory; asking for it sends the hash of the cached copy, and the master answers "same"
unless it changed, so a second highstate transfers only what changed. A tree lives for one run
and remembers what it read, so a ``map.jinja`` imported by twenty SLS costs one request. A
download is checked against the master's SHA-256 before it replaces the cached copy. The cache
follows the master and stays bounded in bytes (:mod:`pvc.states.filecache`): a file the master
no longer has, or a listing no longer shows, leaves it, and the least recently used files go
when downloads take it past :data:`~pvc.states.filecache.MAX_CACHE_BYTES`.

Example::

    tree = RemoteTree(ctx.master)
    tree.read("top.sls")         # b"base: ..." (one small request when the cache is current)
    fetch_pillar(ctx.master)     # this minion's pillar, rendered by the master
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import tempfile
import time
from dataclasses import dataclass, replace
from typing import Any

from pvc.execution.context import MasterLink
from pvc.states.errors import StateError
from pvc.states.filecache import MAX_CACHE_BYTES, CacheBudget, forget, prune, touch
from pvc.states.listing import MAX_LISTING
from pvc.states.pillar import PillarError
from pvc.states.tree import MAX_FILE_BYTES, UnsafePath, tree_path, tree_prefix
from pvc.wire.files import BUSY, MISSING, FileData, FileReq, Listing, ListReq, PillarData, PillarReq
from pvc.wire.mine import BUSY as MINE_BUSY
from pvc.wire.mine import MineRequest

MAX_RESTARTS = 3
BUSY_RETRIES = 10
_SALTENV = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")
Paths = list[str]  # (inside RemoteTree, ``list`` is the StateTree method)


class FetchError(StateError):
    """The master could not serve a file (refused, unreadable, changing under us)."""


@dataclass
class FetchStats:
    """What a tree moved: requests sent, bytes received, files found current in the cache."""

    requests: int = 0
    bytes: int = 0
    same: int = 0
    fetched: int = 0


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    except FileNotFoundError:
        return ""
    return digest.hexdigest()


class RemoteTree:
    def __init__(self, link: MasterLink, saltenv: str = "base", max_cache_bytes: int = MAX_CACHE_BYTES) -> None:
        if not _SALTENV.fullmatch(saltenv):  # it names a directory of the cache
            raise UnsafePath(f"saltenv {saltenv[:64]!r}: use letters, digits, '_', '-' or '.' (not first)")
        self.link = link
        self.saltenv = saltenv
        self.stats = FetchStats()
        self._read: dict[str, bytes | None] = {}
        self._lists: dict[str, Paths] = {}
        self.budget = CacheBudget(link.cache_dir, max_cache_bytes)

    def cached_path(self, path: str) -> str:
        return os.path.join(self.link.cache_dir, self.saltenv, tree_path(path))

    def read(self, path: str) -> bytes | None:
        rel = tree_path(path)
        if rel not in self._read:
            self._read[rel] = self._read_current(rel)
        return self._read[rel]

    def _read_current(self, rel: str) -> bytes | None:
        for _ in range(MAX_RESTARTS):
            local = self.fetch(rel)
            if local is None:
                return None
            try:
                return _read_bounded(local, rel)
            except FileNotFoundError:  # another run's eviction took it meanwhile: fetch it again
                continue
        raise FetchError(f"salt://{rel} kept leaving the cache while it was read")

    def list(self, prefix: str) -> Paths:
        rel = tree_prefix(prefix)
        if rel not in self._lists:
            self._lists[rel] = self.listing(rel)
        return self._lists[rel]

    def listing(self, prefix: str, dirs: bool = False) -> Paths:
        answer = self._ask(ListReq(self.link.next_rid(), prefix, self.saltenv, dirs))
        assert isinstance(answer, Listing)
        if answer.error:
            raise FetchError(f"listing salt://{prefix}: {answer.error}")
        if not dirs and len(answer.paths) < MAX_LISTING:  # complete: what it lacks is gone
            prune(os.path.join(self.link.cache_dir, self.saltenv), tree_prefix(prefix), frozenset(answer.paths))
        return answer.paths

    def fetch(self, rel: str) -> str | None:
        """The local path of an up-to-date copy of ``rel``, or None if the master has none."""
        local = self.cached_path(rel)
        for _ in range(MAX_RESTARTS):
            have = _sha256(local)
            first = self._chunk(rel, 0, have)
            if first.error == MISSING:
                forget(local)
                return None
            if first.error:
                raise _refusal(rel, first.error)
            if first.same:
                self.stats.same += 1
                touch(local)
                return local
            if first.size > MAX_FILE_BYTES:
                raise FetchError(f"salt://{rel} is {first.size} bytes, more than {MAX_FILE_BYTES}")
            if self._download(rel, local, first):
                self.stats.fetched += 1
                self.budget.added(local, first.size)
                return local
        raise FetchError(f"salt://{rel} kept changing while it was fetched")

    def _download(self, rel: str, local: str, first: FileData) -> bool:
        os.makedirs(os.path.dirname(local), mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(local), prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                piece, digest = first, hashlib.sha256()
                while True:
                    out.write(piece.data)
                    digest.update(piece.data)
                    done = piece.offset + len(piece.data)
                    if done >= first.size or not piece.data:
                        break
                    piece = self._chunk(rel, done, first.hash)
                    if piece.error:
                        return False  # changed on the master meanwhile: start over
            if digest.hexdigest() != first.hash:
                return False
            os.replace(tmp, local)
            tmp = ""
            return True
        finally:
            if tmp:
                os.unlink(tmp)

    def _chunk(self, rel: str, offset: int, have: str) -> FileData:
        answer = self._ask(FileReq(self.link.next_rid(), rel, self.saltenv, offset, have))
        assert isinstance(answer, FileData)
        self.stats.bytes += len(answer.data)
        return answer

    def _ask(self, req: FileReq | ListReq | PillarReq) -> Any:
        return ask(self.link, req, self.stats)


def ask(link: MasterLink, req: FileReq | ListReq | PillarReq | MineRequest, stats: FetchStats | None = None) -> Any:
    """``req``'s answer; a "busy" master (a whole fleet asking at once) is asked again after a
    jittered, doubling pause, ``BUSY_RETRIES`` times at most (about 12 s in all). The mine's
    requests (:mod:`pvc.modules.mine`) come this way too."""
    pause = 0.05
    for attempt in range(BUSY_RETRIES + 1):
        if stats is not None:
            stats.requests += 1
        answer = link.request(req if attempt == 0 else replace(req, rid=link.next_rid()))
        if answer.error not in (BUSY, MINE_BUSY) or attempt == BUSY_RETRIES:
            return answer
        time.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(2.0, pause * 2)
    raise AssertionError("unreachable")


def _refusal(rel: str, error: str) -> StateError:
    if error.startswith("refused"):
        return UnsafePath(f"the master refused salt://{rel[:200]}: {error}")
    return FetchError(f"salt://{rel[:200]}: {error}")


def _read_bounded(path: str, rel: str) -> bytes:
    with open(path, "rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise FetchError(f"salt://{rel} is larger than {MAX_FILE_BYTES} bytes")
    return data


def fetch_pillar(link: MasterLink, saltenv: str = "base") -> dict[str, Any]:
    """This minion's pillar, rendered for it by the master (and readable by it alone)."""
    answer = ask(link, PillarReq(link.next_rid(), saltenv))
    if not isinstance(answer, PillarData):
        raise PillarError("the master answered a pillar request with something else")
    if answer.error:
        raise PillarError(f"pillar: {answer.error}")
    return answer.pillar
