"""The minion's file cache kept in step with the master and bounded in bytes.

:class:`~pvc.states.fileclient.RemoteTree` keeps what it fetched under
``<cache_dir>/<saltenv>/<tree path>``. Left alone, that only grows: a file deleted on the master
would stay forever, and a tree that changes often piles up copies nobody reads. So:

- a file the master says is missing leaves the cache (:func:`forget`);
- a listing of a directory removes the cached files under it that the listing no longer has
  (:func:`prune`);
- the whole cache is bounded in bytes, least recently used first (:class:`CacheBudget`): each
  use of a cached file touches its mtime, and when downloads take the cache past its bound the
  oldest files go until it is back under nine tenths of it.

Another run may be reading a file that goes (the tree re-fetches it), but never one being
written: partial downloads (``.part-*``) are left alone unless a crash left them an hour ago.

Example::

    budget = CacheBudget("/var/cache/pvc/minion/files", 256 * 2**20)
    budget.added(path, 4096)                     # after each download: evicts when over
    prune(env_dir, "ntp", {"ntp/init.sls"})      # a listing of ntp/ came back without the rest
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from collections.abc import Set as AbstractSet

PART = ".part-"  # prefix of a download in progress (RemoteTree writes there, then renames)
STALE_PART = 3600.0
MAX_CACHE_BYTES = 256 * 1024 * 1024
LOW_WATER = 0.9


def touch(path: str) -> None:
    """Mark a cached file as just used (its mtime is its place in the LRU order)."""
    try:
        os.utime(path)
    except FileNotFoundError:
        pass


def forget(path: str) -> None:
    """Remove a cached copy the master no longer has."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _files(top: str, now: float) -> Iterator[tuple[str, os.stat_result]]:
    """Regular files under ``top`` (symlinks not followed), without live partial downloads."""
    for here, _dirs, names in os.walk(top):
        for name in names:
            full = os.path.join(here, name)
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if name.startswith(PART) and now - st.st_mtime < STALE_PART:
                continue
            yield full, st


def prune(env_dir: str, prefix: str, listed: AbstractSet[str]) -> int:
    """Remove the cached files under ``prefix`` (a checked tree path, "" for all) of the
    environment cached in ``env_dir`` that ``listed`` (tree paths) does not hold; how many went."""
    top = os.path.join(env_dir, prefix) if prefix else env_dir
    gone = 0
    for full, _ in list(_files(top, time.time())):
        if os.path.relpath(full, env_dir).replace(os.sep, "/") not in listed:
            forget(full)
            gone += 1
    return gone


def evict_lru(root: str, target: int, keep: str = "") -> int:
    """Remove the least recently used files under ``root`` (but ``keep``, the file just fetched)
    until at most ``target`` bytes stay; the bytes that stay."""
    files = sorted(_files(root, time.time()), key=lambda item: item[1].st_mtime_ns)
    total = sum(st.st_size for _, st in files)
    for full, st in files:
        if total <= target:
            break
        if full == keep:
            continue
        forget(full)
        total -= st.st_size
    return total


class CacheBudget:
    """The cache's size in bytes, learnt by one walk at the first download of a run and then
    counted as files arrive (replaced copies are counted twice: that only brings the next walk
    forward); past ``max_bytes`` the least recently used files go."""

    def __init__(self, root: str, max_bytes: int = MAX_CACHE_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.total: int | None = None

    def added(self, path: str, nbytes: int) -> None:
        """``path`` (``nbytes``) was just downloaded: evict others if the cache is now too big."""
        if self.total is None:
            self.total = sum(st.st_size for _, st in _files(self.root, time.time()))
        else:
            self.total += nbytes
        if self.total > self.max_bytes:
            self.total = evict_lru(self.root, int(self.max_bytes * LOW_WATER), keep=path)
