"""Return collection: accept, store, then acknowledge ("stored before acked"), across restarts.

A return is accepted only for a job that targeted its sender, and stored once. The job is
looked up in memory (jobs in flight) and, failing that, in the job cache — in one batched
query per loop turn — so a return that arrives after a master restart, or long after the
job's deadline, is still stored as long as the cache keeps the job (``keep_jobs``). A return
for a job the cache does not know, or that did not target the sender, is refused and logged.

At the end of each loop turn :meth:`flush` writes the new job records and the accepted
returns in one transaction, and only then streams them to waiting clients, fires them on the
bus and acks them to the minions. If the write fails nothing is acked: the minions resend.

Acks wait while jobs and returns keep coming (like TCP's delayed ack): they go out once the
collector stored neither a job nor a return for ``ack_quiet`` (0.2 s), or once the oldest
waited ``ack_wait``, several jids of one minion in one box. A minion needs its ack only to
clear its spool, and resends first after a heartbeat of the pace the master asks of its fleet
(3 s at the earliest; 40 s at 10,000 minions), so the wait is a quarter of that pace
(0.5-10 s). Sealing 10,000 acks in the middle of a 10,000-minion ping cost the master's loop
~18% of its time, and each ack is a message for the minion to open and a spool write. Jobs
run back to back (each published a few ms after the last one's returns) are acked together,
one box per minion for several jobs; a job's publication counts as work, so the acks of the
last job do not go out in the middle of the next one's start.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from pvc.errors import JobCacheError
from pvc.master.jobcache import JobRecord, SqlJobCache
from pvc.master.jobs import ActiveJob, ActiveJobs
from pvc.observers import JobObserver
from pvc.wire.inner import Lost, Ret, ReturnRec

log = logging.getLogger(__name__)
CACHE_RETRY = 1.0
ACK_QUIET = 0.2    # s without a stored job or return after which waiting acks go out
ACK_DELAY = 0.5    # s an ack may wait under a steady stream of returns, at the least (minions resend after 3 s)
ACK_WAIT_MAX = 10.0  # ... and at the most (a 10,000-minion fleet's first resend comes after 40 s)
ACK_CHUNK = 4096   # jids per ack box (an ack of 100,000 jids would pass no minion's size limit)


@dataclass(frozen=True)
class Delivery:
    """Where the collector's results go (narrow collaborators, not the whole master)."""

    ack: Callable[[str, list[str]], None]            # (minion id, jids)
    to_client: Callable[[bytes, bytes], None]        # (client peer, reply bytes): published replies
    observers: JobObserver                           # the bus, client streams, metrics...
    running: Callable[[str, str], bool]              # (minion id, jid): still on it?


def ack_wait(pace: float) -> float:
    """How long an ack may wait under a steady stream of returns, for a fleet asked to beat every
    ``pace`` seconds (a minion's first resend waits that long): a quarter of it, within
    ``ACK_DELAY`` ... ``ACK_WAIT_MAX``."""
    return min(ACK_WAIT_MAX, max(ACK_DELAY, pace / 4))


class Returns:
    def __init__(self, cache: SqlJobCache, jobs: ActiveJobs, out: Delivery, ack_quiet: float = ACK_QUIET,
                 ack_wait: Callable[[], float] = lambda: ACK_DELAY) -> None:
        self.cache = cache
        self.jobs = jobs
        self.out = out
        self.ack_quiet = ack_quiet
        self.ack_wait = ack_wait
        self.new_jobs: list[JobRecord] = []
        self._pending: list[tuple[str, str, ReturnRec, float]] = []
        self._unknown: list[tuple[str, str, ReturnRec | None, str]] = []  # (jid, mid, ret, lost reason)
        self._acks: dict[str, list[str]] = defaultdict(list)  # for returns of this turn, not yet stored
        self._stored_acks: dict[str, list[str]] = defaultdict(list)  # stored, waiting to go out
        self._acks_since = 0.0  # monotonic time the oldest stored ack began to wait
        self._busy_at = 0.0  # monotonic time of the last turn that stored a job or a return
        self._lost: dict[str, dict[str, str]] = defaultdict(dict)  # jid -> minion -> why
        self._replies: list[tuple[bytes, bytes]] = []  # (client, reply) sent once the jobs are stored
        self.retry_at = 0.0
        self.refused = 0

    @property
    def _unstored(self) -> bool:
        return bool(self.new_jobs or self._pending or self._unknown or self._lost)

    @property
    def busy(self) -> bool:
        return self._unstored and time.monotonic() >= self.retry_at

    def record_job(self, job: JobRecord, peer: bytes, reply: bytes) -> None:
        """Queue a job record; it is written at the end of this loop turn, before any of its
        returns can be acknowledged and before its publisher hears its jid (a master killed
        in between leaves no client holding a jid the cache does not know)."""
        self.new_jobs.append(job)
        self._replies.append((peer, reply))

    def on_return(self, mid: str, msg: Ret) -> None:
        job = self.jobs.get(msg.jid)
        if job is None:
            self._unknown.append((msg.jid, mid, msg.ret, ""))
            return
        self._accept(job, mid, msg.ret)

    def on_lost(self, mid: str, msg: Lost) -> None:
        job = self.jobs.get(msg.jid)
        if job is None:
            self._unknown.append((msg.jid, mid, None, msg.reason))
            return
        if mid in job.expected:
            self._acks[mid].append(msg.jid)
            if job.settle(mid, lost=msg.reason):
                self._lost[msg.jid][mid] = msg.reason
        else:
            self._refuse(mid, msg.jid)

    def _accept(self, job: ActiveJob, mid: str, ret: ReturnRec) -> None:
        if mid not in job.expected:
            self._refuse(mid, job.jid)
            return
        self._acks[mid].append(job.jid)
        if not job.settle(mid):
            return  # a resend whose ack was lost: ack again, store nothing
        self._pending.append((job.jid, mid, ret, time.time()))

    def _refuse(self, mid: str, jid: str) -> None:
        self.refused += 1
        log.warning("refused return from %s for job %s: the job did not target it", mid, jid)

    def _resolve_unknown(self) -> list[tuple[str, str, ReturnRec, float]]:
        """Returns for jobs not in memory: look the jobs up in the cache (one query)."""
        unknown, self._unknown = self._unknown, []
        found = self.cache.lookup_jobs(sorted({jid for jid, _, _, _ in unknown}))
        stored = []
        for jid, mid, ret, reason in unknown:
            targets = found.get(jid)
            if targets is None or mid not in targets.expected:
                self._refuse(mid, jid)
                continue
            self._acks[mid].append(jid)
            if mid in targets.returned:
                continue
            if ret is None:
                self._lost[jid][mid] = reason
            else:
                stored.append((jid, mid, ret, time.time()))
        return stored

    def flush(self) -> None:
        """Store the returns of this loop turn, then tell clients and the bus, then ack them
        (now, or on a later turn: see the module's note on delayed acks)."""
        if self.busy:
            jobs, self.new_jobs = self.new_jobs, []
            pending, self._pending = self._pending, []
            try:
                pending += self._resolve_unknown() if self._unknown else []
                stored = self.cache.write(jobs, [(jid, mid, ret.to_map(), at) for jid, mid, ret, at in pending])
                for jid, missing in self._lost.items():
                    self.cache.mark_missing(jid, missing)
                lost, self._lost = self._lost, defaultdict(dict)
            except JobCacheError as exc:
                self._cache_failed(jobs, pending, exc)
                return
            replies, self._replies = self._replies, []
            for peer, reply in replies:
                self.out.to_client(peer, reply)
            # deliver only what this write stored: a return and its resend in one turn are one
            self._deliver([p for p, new in zip(pending, stored, strict=True) if new], lost)
            if jobs or pending or lost:
                self._busy_at = time.monotonic()
            self._ready_acks()
        elif not self._unstored:  # acks of resends stored before; none for a return still unstored
            self._ready_acks()
        if self._stored_acks:
            now = time.monotonic()
            if now - self._busy_at >= self.ack_quiet or now - self._acks_since >= self.ack_wait():
                self._send_acks()

    def _ready_acks(self) -> None:
        """This turn's acks are stored (or needed no write): they may go out."""
        if not self._acks:
            return
        if not self._stored_acks:
            self._acks_since = time.monotonic()
        for mid, jids in self._acks.items():
            self._stored_acks[mid] += jids
        self._acks.clear()

    def _send_acks(self) -> None:
        """Every stored ack, now. (Those still waiting when the master stops are lost with its
        connections: their minions resend, and the next master stores nothing twice.)"""
        acks, self._stored_acks = self._stored_acks, defaultdict(list)
        for mid, jids in acks.items():
            for i in range(0, len(jids), ACK_CHUNK):
                self.out.ack(mid, jids[i:i + ACK_CHUNK])

    def _deliver(self, pending: list[tuple[str, str, ReturnRec, float]], lost: dict[str, dict[str, str]]) -> None:
        touched: dict[str, ActiveJob] = {jid: job for jid in lost if (job := self.jobs.get(jid)) is not None}
        for jid, mid, ret, _ in pending:
            self.out.observers.job_returned(jid, mid, ret.value())
            job = self.jobs.get(jid)
            if job is not None:
                touched[jid] = job
        for job in touched.values():  # only after every return of this turn went out
            if not job.finished and job.complete:
                self.finish(job)

    def _cache_failed(self, jobs: list[JobRecord], pending: list[tuple[str, str, ReturnRec, float]],
                      exc: JobCacheError) -> None:
        """Nothing of this turn was stored, so nothing is acked: the minions resend their
        returns, and the job records are written again in a second."""
        log.error("%s; %d returns not acknowledged (minions will resend), retrying in %gs",
                  exc, len(pending), CACHE_RETRY)
        self.new_jobs[:0] = jobs
        for jid, mid, _, _ in pending:
            job = self.jobs.get(jid)
            if job is not None:
                job.unsettle(mid)
        self._acks.clear()
        for jid, missing in self._lost.items():  # reported again: the minions resend what was not acked
            job = self.jobs.get(jid)
            if job is not None:
                for mid in missing:
                    job.unsettle(mid, lost=True)
        self._lost.clear()
        self.retry_at = time.monotonic() + CACHE_RETRY

    def finish(self, job: ActiveJob) -> None:
        """The job's deadline passed or everyone answered: record who did not, tell clients."""
        job.finished = True
        missing = job.missing(self.out.running)
        if missing:
            try:
                self.cache.mark_missing(job.jid, missing)
            except JobCacheError as exc:
                log.error("job %s: could not record who did not return: %s", job.jid, exc)
        self.out.observers.job_finished(job.jid, missing)

    def finish_due(self, now: float) -> None:
        for job in self.jobs.due(now):
            self.finish(job)

    def rearm(self, since: float, limit: int = 100_000) -> int:
        """After a restart: jobs the cache holds that still wait for minions get a deadline
        again (their returns are accepted whenever they come, see :meth:`on_return`)."""
        now_wall, now = time.time(), time.monotonic()
        count = 0
        for t in self.cache.open_jobs(since, limit):
            deadline = now + max(0.0, t.created + t.timeout - now_wall)
            job = ActiveJob(t.jid, t.expected, frozenset(), deadline, returned=set(t.returned),
                            lost={m: "" for m in t.missing})
            self.jobs.add(job)
            count += 1
        return count
