"""The master's mine: the newest result of each minion's mine functions, bounded and on disk.

One file per minion, ``<cachedir>/mine/<id>.mine``: a msgpack map ``{fun: [data, allow_tgt,
allow_tgt_type]}`` where ``data`` is the result as msgpack bytes (kept packed: memory is bounded
by the same byte count as the disk, and a lookup decodes only what it returns). A write goes to a
temporary file that is fsynced and renamed over the old one (then the directory is fsynced), so
a crash leaves the old version or the new one, never half of one, and a restarted master loads
every file back, checked as hostile input (size first, then types). A file that fails the check
is set aside as ``<id>.mine.bad`` and logged.

Bounds: each minion's file at most ``per_minion`` bytes, all of them together at most ``total``.
An update past either is refused with :class:`MineFull` and the minion's older data stays: one
minion can neither grow without end nor push out the others'.

Only the mine's worker thread (:mod:`pvc.master.mine`) uses a store.

Example::

    store = MineStore("/var/cache/pvc/master/mine", per_minion=2**20, total=64 * 2**20)
    store.update("hv1", {"grains.items": Entry(pack({"os": "Debian"}))})
    store.get("hv1", "grains.items").packed
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pvc.errors import ProtocolError, PvcError
from pvc.ids import is_valid_minion_id
from pvc.wire.codec import pack, unpack
from pvc.wire.mine import MAX_FUN, MAX_TGT, MAX_TGT_TYPE

log = logging.getLogger(__name__)
SUFFIX = ".mine"


class MineFull(PvcError):
    """An update would take a minion's mine data, or the whole mine, past its bound."""


@dataclass(frozen=True)
class Entry:
    """One function's newest result (msgpack bytes) and who may read it ("": every minion)."""

    packed: bytes
    allow_tgt: str = ""
    allow_tgt_type: str = "glob"


def _encode(entries: Mapping[str, Entry]) -> bytes:
    return pack({fun: [e.packed, e.allow_tgt, e.allow_tgt_type] for fun, e in entries.items()})


def _decode(data: bytes, max_size: int) -> dict[str, Entry]:
    """A minion's file back into entries; ProtocolError unless every part has its type and bounds."""
    raw: Any = unpack(data, max_size)
    if not isinstance(raw, dict):
        raise ProtocolError("not a map")
    out = {}
    for fun, value in raw.items():
        if len(fun) > MAX_FUN or not isinstance(value, list) or len(value) != 3:
            raise ProtocolError("an entry is malformed")
        packed, tgt, tgt_type = value
        if not (isinstance(packed, bytes) and isinstance(tgt, str) and isinstance(tgt_type, str)
                and len(tgt) <= MAX_TGT and len(tgt_type) <= MAX_TGT_TYPE):
            raise ProtocolError(f"entry {fun[:64]!r} is malformed")
        out[fun] = Entry(packed, tgt, tgt_type)
    return out


class MineStore:
    def __init__(self, directory: str, per_minion: int, total: int) -> None:
        self.directory = directory
        self.per_minion = per_minion
        self.total = total
        self.minions: dict[str, dict[str, Entry]] = {}
        self.sizes: dict[str, int] = {}
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self._load()

    @property
    def used(self) -> int:
        return sum(self.sizes.values())

    def get(self, mid: str, fun: str) -> Entry | None:
        return self.minions.get(mid, {}).get(fun)

    def update(self, mid: str, entries: Mapping[str, Entry], clear: bool = False) -> None:
        """Store ``entries`` for ``mid`` (``clear``: instead of all it had); MineFull past a bound."""
        merged = dict(entries) if clear else {**self.minions.get(mid, {}), **entries}
        self._write(mid, merged)

    def delete(self, mid: str, funs: Iterable[str] | None = None) -> None:
        """Forget ``funs`` of ``mid`` (None: all of its entries)."""
        if mid not in self.minions:
            return
        drop = None if funs is None else set(funs)
        kept = {} if drop is None else {f: e for f, e in self.minions[mid].items() if f not in drop}
        self._write(mid, kept)

    def keep_only(self, ids: Iterable[str]) -> list[str]:
        """Forget every minion but ``ids`` (the accepted keys); the ids forgotten."""
        keep = set(ids)
        gone = sorted(mid for mid in self.minions if mid not in keep)
        for mid in gone:
            self._write(mid, {})
        return gone

    # -- disk -------------------------------------------------------------------------------
    def _path(self, mid: str) -> str:
        if not is_valid_minion_id(mid):  # ids come from authenticated sessions; checked all the same
            raise ValueError(f"not a minion id: {mid[:64]!r}")
        return os.path.join(self.directory, mid + SUFFIX)

    def _write(self, mid: str, entries: dict[str, Entry]) -> None:
        path = self._path(mid)
        if not entries:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            self.minions.pop(mid, None)
            self.sizes.pop(mid, None)
            return
        data = _encode(entries)
        if len(data) > self.per_minion:
            raise MineFull(f"mine data of {mid} would be {len(data)} bytes, more than the {self.per_minion} "
                           "a minion may keep (mine_minion_max_bytes)")
        grown = self.used - self.sizes.get(mid, 0) + len(data)
        if grown > self.total:
            raise MineFull(f"the mine is full ({self.used} of {self.total} bytes, mine_max_bytes): "
                           f"{len(data)} bytes of {mid} refused")
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        dirfd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
        self.minions[mid] = entries
        self.sizes[mid] = len(data)

    def _load(self) -> None:
        for name in sorted(os.listdir(self.directory)):
            full = os.path.join(self.directory, name)
            if name.startswith(".tmp-"):  # a write a crash interrupted: the old version is in place
                os.unlink(full)
                continue
            mid = name.removesuffix(SUFFIX)
            if not name.endswith(SUFFIX) or not is_valid_minion_id(mid):
                continue
            try:
                with open(full, "rb") as fh:
                    data = fh.read(self.per_minion + 1)
                entries = _decode(data, self.per_minion)
            except (OSError, ProtocolError) as exc:
                log.warning("mine: %s is unreadable or malformed (%s); set aside as %s.bad", full, exc, name)
                os.replace(full, full + ".bad")
                continue
            if self.used + len(data) > self.total:
                log.warning("mine: %s left out: the mine would be past mine_max_bytes (%d)", full, self.total)
                continue
            self.minions[mid] = entries
            self.sizes[mid] = len(data)
