"""The master's side of the mine: store what minions send, answer ``mine.get``, off the loop.

Minions send :class:`~pvc.wire.mine.MineUpdate` / ``MineDelete`` for their own entries (the
sealed channel names the sender: no minion can write another's) and ask ``MineGet``; the loop
hands each to a worker thread (:class:`~pvc.master.offloop.OffLoop`, as the file server does), so
fsyncs and lookups never block it, and the answers go back sealed to the asking minion. A get
matches the target (Salt's target types, :mod:`pvc.targeting`) against the minions that have
mine data, with the grains they reported (a minion that is away has none here, so grain targets
leave it out; glob, list and pcre targets still find it), and returns only the entries the asker may read
(an entry's ``allow_tgt``). An answer is bounded (``MAX_ANSWER`` bytes of data): past it, an
error that says to narrow the target. The data is kept by :class:`~pvc.master.minestore.MineStore`
(bounded, on disk, back after a restart); a minion whose key is deleted loses its entries.

Example::

    mine = MineServer(MineStore(dir, 2**20, 64 * 2**20), nodegroups, grains, send)
    poller.register(mine.fd, zmq.POLLIN)
    mine.submit("hv2", MineGet(1, "hv1", funs=["grains.items"]))   # loop thread
    mine.drain()                                                   # loop thread: sends MineData
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from pvc.errors import InvalidTarget, ProtocolError
from pvc.master.minestore import Entry, MineFull, MineStore
from pvc.master.offloop import OffLoop
from pvc.master.ratelimit import PeerLimiter, TokenBucket
from pvc.targeting import Target, compile_target
from pvc.wire.codec import pack, unpack
from pvc.wire.mine import BUSY, MineData, MineDelete, MineGet, MineUpdate
from pvc.wire.record import Record

log = logging.getLogger(__name__)
QUEUE_MAX = 1024
PER_MINION = 16
MAX_ANSWER = 16 * 1024 * 1024  # bytes of mine data in one answer (msgpack, before sealing)
# writes per second (and saved up) one minion may make: each costs an fsync on the worker, and
# a mine is written once per mine_interval
WRITE_RATE, WRITE_BURST = 1.0, 10.0

Grains = Mapping[str, Mapping[str, Any]]


class MineServer:
    def __init__(self, store: MineStore, nodegroups: Mapping[str, Any], grains: Grains,
                 send: Callable[[str, Record], None]) -> None:
        self.store = store
        self.grains = grains
        self.stats: Counter[str] = Counter()
        self._log_budget = TokenBucket(2.0, 20.0)
        self._writes = PeerLimiter(WRITE_RATE, WRITE_BURST)
        self._target: Callable[[str, str], Target] = lru_cache(maxsize=256)(
            lambda tgt, tgt_type: compile_target(tgt, tgt_type, nodegroups))
        self.worker = OffLoop("pvc-mine", self.answer, _error, send, BUSY, QUEUE_MAX, PER_MINION, self.stats)
        self.fd = self.worker.fd

    # -- loop thread ------------------------------------------------------------------------
    def submit(self, mid: str, req: Record) -> None:
        """Queue ``req`` from ``mid``; a get takes along a snapshot of the reported grains (the
        loop replaces a minion's grains while the worker matches targets). A minion writing
        faster than ``WRITE_RATE`` is told "busy" at once."""
        if isinstance(req, (MineUpdate, MineDelete)) and not self._writes.allow(mid.encode(), time.monotonic()):
            self.worker.refuse_busy(mid, req)
            return
        self.worker.submit(mid, req, dict(self.grains) if isinstance(req, MineGet) else None)

    def keep_only(self, ids: Iterable[str]) -> None:
        """Forget the mine data of every minion not in ``ids`` (the accepted keys), on the worker."""
        keep = frozenset(ids)
        if not self.worker.run_soon(lambda: self._forget_others(keep)):
            log.warning("mine: queue full; deleted keys' mine data is forgotten at the next key change")

    def drain(self) -> None:
        self.worker.drain()

    def close(self) -> None:
        self.worker.close()

    # -- worker thread ----------------------------------------------------------------------
    def _forget_others(self, keep: frozenset[str]) -> None:
        gone = self.store.keep_only(keep)
        if gone:
            log.info("mine: forgot the data of %s (key no longer accepted)", ", ".join(gone[:20]))

    def answer(self, mid: str, req: Record, grains: Grains | None) -> Record:
        try:
            if isinstance(req, MineUpdate):
                return self._update(mid, req)
            if isinstance(req, MineDelete):
                self.store.delete(mid, None if req.flush else req.funs)
                return MineData(req.rid)
            if isinstance(req, MineGet):
                return self._get(mid, req, grains or {})
        except (MineFull, InvalidTarget) as exc:
            self.stats["refused"] += 1
            if self._log_budget.take():
                log.warning("minion %s: mine: %s", mid, str(exc)[:300])
            return _error(req, str(exc))
        except OSError as exc:
            log.error("mine: cannot write for %s: %s", mid, exc)
            return _error(req, f"the master cannot store mine data: {exc.strerror}")
        raise TypeError(f"not a mine request: {req.KIND}")

    def _update(self, mid: str, req: MineUpdate) -> MineData:
        entries = {}
        for entry in req.entries:
            if entry.allow_tgt:
                self._target(entry.allow_tgt, entry.allow_tgt_type)  # refused now, not at every read
            entries[entry.fun] = Entry(pack(entry.data), entry.allow_tgt, entry.allow_tgt_type)
        self.store.update(mid, entries, req.clear)
        self.stats["updates"] += 1
        return MineData(req.rid)

    def _get(self, mid: str, req: MineGet, grains: Grains) -> MineData:
        target = self._target(req.tgt, req.tgt_type)
        matched = target.expected({m: grains.get(m, {}) for m in self.store.minions})
        out: dict[str, dict[str, Any]] = {}
        size = 0
        for fun in req.funs:
            found = out.setdefault(fun, {})
            for other in matched:
                entry = self.store.get(other, fun)
                if entry is None or not self._may_read(entry, mid, grains.get(mid, {})):
                    continue
                size += len(entry.packed)
                if size > MAX_ANSWER:
                    raise InvalidTarget(f"mine.get {req.tgt[:100]!r}: more than {MAX_ANSWER} bytes of data; "
                                        "narrow the target or ask for fewer functions")
                found[other] = _data(entry)
        self.stats["gets"] += 1
        return MineData(req.rid, out)

    def _may_read(self, entry: Entry, mid: str, grains: Mapping[str, Any]) -> bool:
        if not entry.allow_tgt:
            return True
        try:
            return self._target(entry.allow_tgt, entry.allow_tgt_type).matches(mid, grains)
        except InvalidTarget:  # checked when stored; a changed nodegroup may break it: deny
            return False


def _data(entry: Entry) -> Any:
    try:
        return unpack(entry.packed)
    except ProtocolError:  # packed from checked data, but read back from disk: a tampered file
        return None


def _error(req: Record, message: str) -> Record:
    return MineData(getattr(req, "rid", 0), error=message[:1024])
