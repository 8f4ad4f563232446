"""The master's file server: ``file_roots`` and per-minion pillar, answered off the loop thread.

Minions ask over their sealed channel (:mod:`pvc.wire.files`); the loop hands each request to
a worker thread (:meth:`FileServer.submit`) and sends the answers the worker left, sealed to
that minion, on its next turn (:meth:`FileServer.drain`; an eventfd in the loop's poller wakes
it: :mod:`pvc.master.offloop`). So disk reads, hashing and pillar rendering never block the
loop, and the work is bounded: at most ``QUEUE_MAX`` requests wait (``PER_MINION`` per minion),
each answer carries at most one chunk, file hashes are cached by (size, mtime, inode).

Every path is hostile: :func:`pvc.states.tree.tree_path` refuses ``..``, absolute paths, NUL and
backslashes, and :class:`ServedRoots` refuses a file whose real path leaves its root (a symlink
out). Refusals are logged with the minion id (rate-limited) and answered with an error.

Pillar is rendered for the asking minion from its own id and the grains it reported, and goes
back in its own box: no minion can ask for another's.

Example::

    server = FileServer({"base": ["/srv/salt"]}, {"base": ["/srv/pillar"]}, grains, send)
    poller.register(server.fd, zmq.POLLIN)
    server.submit("hv1", FileReq(1, "top.sls"))      # loop thread
    server.drain()                                   # loop thread: sends FileData to hv1
"""

from __future__ import annotations

import logging
import os
import stat
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pvc.errors import PvcError
from pvc.master.offloop import OffLoop
from pvc.master.ratelimit import TokenBucket
from pvc.states.listing import list_roots
from pvc.states.tree import FileRoots, UnsafePath, tree_path
from pvc.wire.files import BUSY, CHUNK, MAX_PATH, MISSING, FileData, FileReq, Listing, ListReq, PillarData, PillarReq
from pvc.wire.record import Record

log = logging.getLogger(__name__)
QUEUE_MAX = 1024
PER_MINION = 32
HASHES_MAX = 8192


@dataclass(frozen=True)
class _Key:
    path: str
    size: int
    mtime_ns: int
    ino: int


class ServedRoots(FileRoots):
    """One environment's roots as the master serves them: located safely, hashed, read by chunk."""

    def __init__(self, roots: Sequence[str], saltenv: str) -> None:
        super().__init__(roots, saltenv)
        self._hashes: OrderedDict[_Key, str] = OrderedDict()

    def locate(self, path: str) -> tuple[str, os.stat_result] | None:
        """The real path and stat of a regular file, None if absent, UnsafePath if it leaves."""
        real = self._locate(path)
        if real is None:
            return None
        try:
            st = os.stat(real)
        except OSError:
            return None
        return (real, st) if stat.S_ISREG(st.st_mode) else None

    def digest(self, real: str, st: os.stat_result) -> str:
        import hashlib

        key = _Key(real, st.st_size, st.st_mtime_ns, st.st_ino)
        found = self._hashes.get(key)
        if found is None:
            h = hashlib.sha256()
            with open(real, "rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
            found = self._hashes[key] = h.hexdigest()
            while len(self._hashes) > HASHES_MAX:
                self._hashes.popitem(last=False)
        return found

    def listing(self, prefix: str, dirs: bool) -> list[str]:
        """Files (or directories) under ``prefix`` ("" for all); symlinks out are not listed."""
        return list_roots(self.roots, prefix, dirs)


def _roots(envs: Mapping[str, Sequence[str]]) -> dict[str, ServedRoots]:
    return {env: ServedRoots(list(dirs), env) for env, dirs in envs.items()}


class FileServer:
    def __init__(self, file_roots: Mapping[str, Sequence[str]], pillar_roots: Mapping[str, Sequence[str]],
                 grains: Mapping[str, Mapping[str, Any]], send: Callable[[str, Record], None]) -> None:
        self.files = _roots(file_roots)
        self.pillars = _roots(pillar_roots)
        self.grains = grains
        self.stats: Counter[str] = Counter()
        self._log_budget = TokenBucket(2.0, 20.0)
        self.worker = OffLoop("pvc-fileserver", self.answer, _error, send, BUSY, QUEUE_MAX, PER_MINION, self.stats)
        self.fd = self.worker.fd

    # -- loop thread ------------------------------------------------------------------------
    def submit(self, mid: str, req: Record) -> None:
        """Queue ``req`` from ``mid`` with the grains it reported; a full queue (or a minion with
        too many waiting) gets a "busy" answer at once: it retries, nobody else waits."""
        self.worker.submit(mid, req, self.grains.get(mid, {}))

    def drain(self) -> None:
        self.worker.drain()

    def close(self) -> None:
        self.worker.close()

    # -- worker thread ----------------------------------------------------------------------
    def answer(self, mid: str, req: Record, grains: Mapping[str, Any]) -> Record:
        try:
            if isinstance(req, FileReq):
                return self._file(req)
            if isinstance(req, ListReq):
                return self._list(req)
            if isinstance(req, PillarReq):
                return self._pillar(mid, req, grains)
        except UnsafePath as exc:
            self.stats["refused"] += 1
            if self._log_budget.take():
                log.warning("minion %s: refused a file request: %s", mid, str(exc)[:300])
            return _error(req, f"refused: {exc}"[:1024])
        except OSError as exc:
            return _error(req, f"cannot read: {exc.strerror}")
        raise TypeError(f"not a file request: {req.KIND}")

    def _env(self, roots: Mapping[str, ServedRoots], saltenv: str) -> ServedRoots:
        found = roots.get(saltenv)
        if found is None:
            raise UnsafePath(f"no environment {saltenv[:64]!r} on this master")
        return found

    def _file(self, req: FileReq) -> FileData:
        roots = self._env(self.files, req.saltenv)
        located = roots.locate(_checked(req.path))
        if located is None:
            return FileData(req.rid, error=MISSING)
        real, st = located
        digest = roots.digest(real, st)
        if req.offset == 0 and req.have == digest:
            self.stats["same"] += 1
            return FileData(req.rid, digest, st.st_size, same=True)
        if req.offset and req.have != digest:
            return FileData(req.rid, digest, st.st_size, error="changed during the transfer")
        with open(real, "rb") as fh:
            data = os.pread(fh.fileno(), CHUNK, req.offset)
        self.stats["chunks"] += 1
        self.stats["bytes"] += len(data)
        return FileData(req.rid, digest, st.st_size, req.offset, data)

    def _list(self, req: ListReq) -> Listing:
        return Listing(req.rid, self._env(self.files, req.saltenv).listing(_checked(req.prefix, empty=True), req.dirs))

    def _pillar(self, mid: str, req: PillarReq, grains: Mapping[str, Any]) -> PillarData:
        from pvc.states.pillar import render_pillar  # Jinja and YAML load only if pillar is used

        roots = self.pillars.get(req.saltenv)
        if roots is None:
            return PillarData(req.rid)
        try:
            return PillarData(req.rid, render_pillar(roots, mid, grains))
        except PvcError as exc:
            log.warning("minion %s: pillar: %s", mid, str(exc)[:500])
            return PillarData(req.rid, error=str(exc)[:1024])


def _checked(path: str, empty: bool = False) -> str:
    """``path`` if it may name something in the tree (the file roots check the rest)."""
    if len(path) > MAX_PATH:
        raise UnsafePath(f"path longer than {MAX_PATH} characters")
    return path if empty else tree_path(path)


def _error(req: Record, message: str) -> Record:
    rid = getattr(req, "rid", 0)
    if isinstance(req, ListReq):
        return Listing(rid, error=message)
    if isinstance(req, PillarReq):
        return PillarData(rid, error=message)
    return FileData(rid, error=message)
