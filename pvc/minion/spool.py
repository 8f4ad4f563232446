"""A minion's on-disk spool of unacked returns and of jobs still running.

Why a log, not a file per job: the minion's I/O loop runs thousands of jobs per second, and each
call here is one ``write(2)`` to one append-only file (no fsync by default). A written record sits
in the page cache, which outlives the process, so a crash or SIGKILL loses nothing a method
returned for; ``fsync=True`` adds an ``fdatasync`` per record for power-loss safety.

File format: a header record, then records framed as ``<u32 length><u32 crc32(body)><body>``, the
body a msgpack list whose first item is the record kind (``started``, ``ret``, ``acked``,
``dropped``). Replay on open stops at the first torn or corrupt record, truncates the file there
and logs it once. A ``ret`` also marks its job finished, so no separate ``finished`` record exists.

Bounds: ``max_bytes`` bounds the *file*. Live records may use half of it, and the file is compacted
(live records rewritten to a temp file, then ``os.replace``) when dead bytes outgrow live bytes or
the next record would cross ``max_bytes``; so a compaction never copies more than it reclaims and
the file stays within ``max_bytes``. At the bound the oldest returns are dropped, and returns older
than ``max_age`` expire; both are logged (one WARNING per burst) and counted in :attr:`Spool.stats`.

Not thread-safe: the minion's loop thread owns it. Example::

    spool = Spool("/var/cache/pvc/minion/spool/web1.log")
    for jid, fun in spool.interrupted():      # once, after open
        spool.put(jid, seal(jid, error="minion restarted during the job"))
    spool.started(jid, "test.ping")
    spool.put(jid, body)                      # then send it; resend spool.pending() until acked
    spool.ack(jid)                            # the master stored it
"""

from __future__ import annotations

import binascii
import errno
import fcntl
import logging
import os
import struct
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

import msgpack  # type: ignore[import-untyped]  # ships no stubs

from pvc.errors import InvalidArgument, PvcError

log = logging.getLogger(__name__)

MAGIC, VERSION = "pvc-spool", 1
HEADER, STARTED, RET, ACKED, DROPPED = 0, 1, 2, 3, 4
COMPACT_MIN = 1 << 20  # below this file size, dead bytes are not worth a rewrite
_FRAME = struct.Struct("<II")


class SpoolError(PvcError):
    """The spool file cannot be opened or written (the message names the path and why)."""


@dataclass(slots=True)
class SpoolStats:
    """Counters since open. ``dropped``/``dropped_bytes``: lost at the byte bound (bytes are the
    records' on-disk size); ``expired``: lost to ``max_age``."""

    live_bytes: int = 0
    dropped: int = 0
    dropped_bytes: int = 0
    expired: int = 0


def _frame(rec: list[Any]) -> bytes:
    body: bytes = msgpack.packb(rec, use_bin_type=True)
    return _FRAME.pack(len(body), binascii.crc32(body)) + body


_HEADER = _frame([HEADER, MAGIC, VERSION])


@dataclass(slots=True)
class _Entry:
    value: Any  # fun (str) for a started job, payload (bytes) for a return
    ts: float  # wall clock, so that age survives restarts
    size: int  # on-disk size of the record that holds it


class Spool:
    def __init__(self, path: str, max_bytes: int = 64 << 20, max_age: float = 24 * 3600,
                 fsync: bool = False, *, clock: Callable[[], float] = time.time) -> None:
        if max_bytes < 4 * len(_HEADER):
            raise InvalidArgument(f"spool max_bytes must be at least {4 * len(_HEADER)}, not {max_bytes}")
        self.path, self.max_bytes, self.max_age, self.fsync = path, max_bytes, max_age, fsync
        self.stats = SpoolStats()
        self._clock = clock
        self._budget = max_bytes // 2 - len(_HEADER)
        self._compact_min = min(COMPACT_MIN, self._budget)
        self._started: OrderedDict[str, _Entry] = OrderedDict()
        self._rets: OrderedDict[str, _Entry] = OrderedDict()
        self._prior: list[str] = []
        self._burst = {"dropped": 0, "expired": 0}
        self._size = 0
        self._fd = -1
        self._open()

    # -- public API -------------------------------------------------------------------------
    def started(self, jid: str, fun: str) -> None:
        """Record that job ``jid`` was received and is about to run (a jid seen again starts over)."""
        self._store(STARTED, jid, fun, self._clock())

    def put(self, jid: str, payload: bytes) -> None:
        """Keep ``jid``'s return until :meth:`ack`; it replaces the job's ``started`` record."""
        now = self._clock()
        self._expire(now)
        self._store(RET, jid, payload, now)

    def ack(self, *jids: str) -> None:
        """Forget each of ``jids`` (its return, or its ``started`` record), in one write (a
        master's ack may name many); unknown jids are ignored."""
        known = [jid for jid in jids if jid in self._rets or jid in self._started]
        if known:
            self._append([_frame([ACKED, jid]) for jid in known])
            for jid in known:
                self._forget(jid)
            self._maybe_compact(0)

    def pending(self) -> list[tuple[str, bytes]]:
        """Unacked returns, oldest first (expired ones are dropped first)."""
        self._expire(self._clock())
        return [(jid, e.value) for jid, e in self._rets.items()]

    def interrupted(self) -> list[tuple[str, str]]:
        """``(jid, fun)`` of jobs started before this open that never finished. The caller reports
        each (``put`` of a failed return replaces it), so call it once, right after open."""
        return [(jid, self._started[jid].value) for jid in self._prior if jid in self._started]

    def close(self) -> None:
        if self._fd >= 0:
            self._end_bursts()
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------------
    def _store(self, kind: int, jid: str, value: Any, ts: float) -> None:
        rec = _frame([kind, jid, value, ts])
        size = len(rec)
        if size > self._budget:  # could never fit: count it as dropped, keep nothing of the job
            if jid in self._rets or jid in self._started:
                self._append([_frame([DROPPED, jid])])
                self._forget(jid)
            self.stats.dropped += 1
            self.stats.dropped_bytes += size
            log.warning("spool %s: not keeping %s, its %d-byte record exceeds half of max_bytes (%d)",
                        self.path, jid, size, self.max_bytes)
            return
        victims = self._victims(size, jid)
        self._append([_frame([DROPPED, v]) for v in victims] + [rec] if victims else [rec])
        self._count(victims, "dropped")
        self._forget(jid)
        (self._rets if kind == RET else self._started)[jid] = _Entry(value, ts, size)
        self.stats.live_bytes += size
        if not victims and self._burst["dropped"]:
            self._end_bursts("dropped")
        self._maybe_compact(0)

    def _victims(self, size: int, jid: str) -> list[str]:
        """Oldest returns (then oldest started jobs) to drop so that ``size`` more bytes fit."""
        over = self.stats.live_bytes + size - self._budget
        own = self._rets.get(jid) or self._started.get(jid)
        over -= own.size if own else 0
        victims: list[str] = []
        for table in (self._rets, self._started):
            for victim, entry in table.items():
                if over <= 0:
                    return victims
                if victim != jid:
                    victims.append(victim)
                    over -= entry.size
        return victims

    def _expire(self, now: float) -> None:
        if self.max_age <= 0 or not self._rets:
            return
        cutoff = now - self.max_age
        old = []
        for jid, entry in self._rets.items():
            if entry.ts >= cutoff:
                break
            old.append(jid)
        if old:
            self._lose(old, "expired")
        elif self._burst["expired"]:
            self._end_bursts("expired")

    def _lose(self, jids: list[str], why: str) -> None:
        """Drop ``jids`` for ``why`` ("dropped" or "expired"): tombstone, forget, count, log."""
        if jids:
            self._append([_frame([DROPPED, j]) for j in jids])
            self._count(jids, why)
            self._maybe_compact(0)

    def _count(self, jids: list[str], why: str) -> None:
        for jid in jids:
            entry = self._rets.get(jid) or self._started[jid]
            if why == "dropped":
                self.stats.dropped += 1
                self.stats.dropped_bytes += entry.size
            else:
                self.stats.expired += 1
            self._warn_burst(why, jid)
            self._forget(jid)

    def _warn_burst(self, why: str, jid: str) -> None:
        if not self._burst[why]:
            limit = f"{self.max_bytes} bytes" if why == "dropped" else f"{self.max_age / 3600:g} hours"
            log.warning("spool %s: at its bound (%s), %s the oldest returns, starting with %s",
                        self.path, limit, why, jid)
        self._burst[why] += 1

    def _end_bursts(self, *whys: str) -> None:
        for why in whys or tuple(self._burst):
            if self._burst[why]:
                log.info("spool %s: %s %d records in that burst (%d dropped, %d expired since open)",
                         self.path, why, self._burst[why], self.stats.dropped, self.stats.expired)
                self._burst[why] = 0

    def _forget(self, jid: str) -> None:
        for table in (self._rets, self._started):
            entry = table.pop(jid, None)
            if entry is not None:
                self.stats.live_bytes -= entry.size

    def _append(self, recs: list[bytes]) -> None:
        if self._fd < 0:
            raise SpoolError(f"spool {self.path} is closed")
        self._maybe_compact(sum(map(len, recs)))
        data = recs[0] if len(recs) == 1 else b"".join(recs)
        try:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:] if written else data)
            if self.fsync:
                os.fdatasync(self._fd)
        except OSError as exc:
            self._truncate_to(self._size)
            raise SpoolError(f"cannot write spool {self.path}: {exc.strerror or exc}") from exc
        self._size += len(data)

    def _truncate_to(self, size: int) -> None:
        """Undo a partial write: cut the file and move the offset back, or the next write would
        leave a hole of zeros that replay reads as the end of the log."""
        try:
            os.ftruncate(self._fd, size)
            os.lseek(self._fd, size, os.SEEK_SET)
        except OSError:
            log.exception("spool %s: could not undo a partial write", self.path)

    # -- compaction -------------------------------------------------------------------------
    def _maybe_compact(self, incoming: int) -> None:
        live = len(_HEADER) + self.stats.live_bytes
        dead = self._size - live
        if (dead > live and self._size > self._compact_min) or (
                dead > 0 and self._size + incoming > self.max_bytes):
            self._compact()

    def _compact(self) -> None:
        """Rewrite the live records to ``<path>.tmp`` and swap it in; a crash before the
        ``os.replace`` leaves the old file whole, after it the new one."""
        tmp = self.path + ".tmp"
        recs = [_HEADER]
        recs += [_frame([STARTED, j, e.value, e.ts]) for j, e in self._started.items()]
        recs += [_frame([RET, j, e.value, e.ts]) for j, e in self._rets.items()]
        data = b"".join(recs)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise SpoolError(f"cannot compact spool {self.path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours before anyone can open it by name
            os.write(fd, data)  # a regular file: short only on error, which raises
            if os.fstat(fd).st_size != len(data):
                raise OSError(errno.ENOSPC, "short write")
            if self.fsync:
                os.fsync(fd)
            os.replace(tmp, self.path)
        except OSError as exc:
            os.close(fd)
            _unlink_quietly(tmp)
            raise SpoolError(f"cannot compact spool {self.path}: {exc.strerror or exc}") from exc
        os.close(self._fd)
        self._fd, self._size = fd, len(data)
        os.lseek(fd, 0, os.SEEK_END)
        if self.fsync:
            _fsync_dir(self.path)

    # -- opening and replay -----------------------------------------------------------------
    def _open(self) -> None:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), mode=0o700, exist_ok=True)
            self._fd = _open_locked(self.path)
            os.fchmod(self._fd, 0o600)
            _unlink_quietly(self.path + ".tmp")  # a compaction that a crash interrupted
            data = os.pread(self._fd, os.fstat(self._fd).st_size, 0)
        except OSError as exc:
            self.close()
            raise SpoolError(f"cannot open spool {self.path}: {exc.strerror or exc}") from exc
        try:
            self._load(data)
        except BaseException:
            self.close()
            raise

    def _load(self, data: bytes) -> None:
        good = self._replay(data)
        if good == 0 and len(data) >= len(_HEADER):
            raise SpoolError(f"{self.path} is not a pvc spool (or its header is corrupt); move it aside")
        if good < len(data):
            log.warning("spool %s: ignoring a torn or corrupt tail of %d bytes at offset %d",
                        self.path, len(data) - good, good)
            os.ftruncate(self._fd, good)
        self._size = good
        os.lseek(self._fd, good, os.SEEK_SET)
        if good == 0:
            self._append([_HEADER])
            if self.fsync:
                _fsync_dir(self.path)
        self._prior = list(self._started)
        self._expire_prior()
        if self.stats.live_bytes > self._budget:  # max_bytes shrank since the file was written
            self._lose(self._victims(0, ""), "dropped")
        self._maybe_compact(0)

    def _replay(self, data: bytes) -> int:
        """Apply every intact record; return the offset where the intact prefix ends."""
        view, off, end = memoryview(data), 0, len(data)
        while off + _FRAME.size <= end:
            length, crc = _FRAME.unpack_from(data, off)
            stop = off + _FRAME.size + length
            if length == 0 or stop > end:
                break
            body = view[off + _FRAME.size:stop]
            if binascii.crc32(body) != crc:
                break
            try:
                rec = msgpack.unpackb(body, raw=False)
            except (ValueError, msgpack.UnpackException):
                break
            if not self._apply(rec, stop - off, first=off == 0):
                break
            off = stop
        return off

    def _apply(self, rec: Any, size: int, first: bool) -> bool:
        """Apply one decoded record; False if it is not a well-formed record here."""
        if not isinstance(rec, list) or not rec or not isinstance(rec[0], int):
            return False
        kind, args = rec[0], rec[1:]
        if first or kind == HEADER:
            if not (first and kind == HEADER and len(args) == 2 and args[0] == MAGIC):
                return False
            if args[1] != VERSION:
                raise SpoolError(f"spool {self.path} has format version {args[1]!r}; this pvc reads {VERSION}")
            return True
        if kind in (STARTED, RET) and len(args) == 3 and isinstance(args[0], str) \
                and isinstance(args[1], str if kind == STARTED else bytes) and isinstance(args[2], float | int):
            jid = args[0]
            self._forget(jid)
            (self._started if kind == STARTED else self._rets)[jid] = _Entry(args[1], float(args[2]), size)
            self.stats.live_bytes += size
            return True
        if kind in (ACKED, DROPPED) and len(args) == 1 and isinstance(args[0], str):
            self._forget(args[0])
            return True
        return False

    def _expire_prior(self) -> None:
        """Jobs started more than ``max_age`` before this open are too old to report."""
        if self.max_age > 0:
            cutoff = self._clock() - self.max_age
            old = [j for j, e in self._started.items() if e.ts < cutoff]
            if old:
                self._lose(old, "expired")
        self._expire(self._clock())


def _open_locked(path: str) -> int:
    """Open and exclusively lock the file at ``path``; retry if a compaction swapped it meanwhile."""
    for _ in range(10):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except BlockingIOError:
            os.close(fd)
            raise OSError(errno.EBUSY, "in use by another process") from None
        except OSError:
            os.close(fd)
            raise
        os.close(fd)
    raise OSError(errno.EBUSY, "replaced repeatedly while opening")


def _fsync_dir(path: str) -> None:
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
