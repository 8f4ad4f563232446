"""Requests from local clients (CLI, Python API): publish a job, read the job cache, notify
key changes, fire an event. One handler per request record, in a table."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pvc.errors import InvalidArgument, JobNotFound, ProtocolError, PvcError
from pvc.master.jobcache import JobRecord, SqlJobCache
from pvc.master.jobcache import JobView as CachedJob
from pvc.master.jobs import ActiveJob, ActiveJobs, JidFactory
from pvc.master.observers import ClientStreams
from pvc.master.publisher import Publisher
from pvc.master.returns import Returns
from pvc.master.sessions import Session, Sessions
from pvc.observers import JobObserver
from pvc.results import NOT_CONNECTED
from pvc.targeting import Target, compile_target
from pvc.wire.inner import Kill, ReturnRec
from pvc.wire.local import (
    REQUESTS,
    ActiveReply,
    ActiveRow,
    ErrorReply,
    EventFire,
    ExpectedReq,
    JobActive,
    JobGet,
    JobKill,
    JobList,
    JobsReply,
    JobSummary,
    JobView,
    KeysChanged,
    KillSent,
    Minions,
    MinionStatus,
    Ok,
    Ping,
    Published,
    PublishReq,
    StatusReply,
    StatusReq,
    StoredRet,
)
from pvc.wire.messages import Job
from pvc.wire.record import Record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClientContext:
    """What client requests may touch: narrow collaborators, not the whole master."""

    nodegroups: Mapping[str, Any]
    max_message_size: int
    cache: SqlJobCache
    jobs: ActiveJobs
    returns: Returns
    sessions: Sessions
    publisher: Publisher
    accepted: Callable[[], Mapping[str, bytes]]
    grains: Mapping[str, dict[str, Any]]
    reload_keys: Callable[[], list[str]]
    fire: Callable[[str, dict], None]
    send: Callable[[bytes, bytes], None]
    send_minion: Callable[[Session, Record], None]
    observers: JobObserver
    streams: ClientStreams


def cached_view(view: CachedJob, running: list[str]) -> JobView:
    rec = view.record
    returns = {mid: StoredRet(_stored_return(r.ret), r.received) for mid, r in view.returns.items()}
    return JobView(rec.jid, rec.fun, rec.args, rec.kwargs, rec.tgt, rec.tgt_type, rec.minions, rec.started,
                   rec.timeout, returns, dict(view.missing), running)


def _stored_return(ret: Any) -> ReturnRec:
    try:
        return ReturnRec.from_map(ret)
    except ProtocolError:  # a cache written before returns were validated
        return ReturnRec(False, None, "the stored return is malformed", "ProtocolError")


class ClientHandlers:
    def __init__(self, ctx: ClientContext) -> None:
        self.ctx = ctx
        self.jids = JidFactory()
        self.table: dict[type[Record], Callable[[bytes, Any], None]] = {
            PublishReq: self.publish,
            ExpectedReq: self.expected,
            JobGet: self.job_get,
            JobList: self.job_list,
            KeysChanged: self.keys_changed,
            EventFire: self.event_fire,
            Ping: lambda peer, req: self.reply(peer, Ok()),
            JobKill: self.job_kill,
            JobActive: self.job_active,
            StatusReq: self.status,
        }

    def handle(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            return
        peer, payload = frames
        try:
            req = REQUESTS.decode_message(payload, self.ctx.max_message_size)
            self.table[type(req)](peer, req)
        except PvcError as exc:
            self.reply(peer, ErrorReply(str(exc)[:65536], type(exc).__name__))

    def reply(self, peer: bytes, rec: Any) -> None:
        self.ctx.send(peer, rec.encode())

    def _target(self, tgt: str, tgt_type: str) -> tuple[Target, list[str]]:
        """The target and the accepted minions it expects: a list of ids costs O(ids), a
        pattern O(fleet) (it is matched against every accepted minion's id and grains)."""
        target = compile_target(tgt, tgt_type, self.ctx.nodegroups)
        accepted = self.ctx.accepted()
        ids = target.explicit_ids()
        if ids is not None:
            return target, sorted(mid for mid in ids if mid in accepted)
        grains = self.ctx.grains
        return target, sorted(target.expected({mid: grains.get(mid, {}) for mid in accepted}))

    def expected(self, peer: bytes, req: ExpectedReq) -> None:
        _, minions = self._target(req.tgt, req.tgt_type)
        connected = self.ctx.sessions.connected_among(minions)
        self.reply(peer, Minions(minions, [m for m in minions if m in connected]))

    def publish(self, peer: bytes, req: PublishReq) -> None:
        ctx = self.ctx
        target, expected = self._target(req.tgt, req.tgt_type)
        connected = ctx.sessions.connected_among(expected)
        jid = self.jids.new()
        now = time.time()
        if connected:  # sent before it is recorded (one loop turn: no return can come first), so
            # that a minion whose connection is gone is recorded as not connected, not waited for
            wire = Job(jid, target.expr, target.tgt_type, req.fun, req.args, req.kwargs, now, req.timeout)
            send = ctx.publisher.broadcast if target.explicit_ids() is None else ctx.publisher.to_each
            connected -= send(wire, connected)
        not_connected = frozenset(mid for mid in expected if mid not in connected)
        ctx.returns.record_job(JobRecord(jid, req.fun, req.args, req.kwargs, target.expr, target.tgt_type,
                                         expected, now, req.timeout),
                               peer, Published(jid, expected, {mid: NOT_CONNECTED for mid in not_connected}).encode())
        job = ActiveJob(jid, frozenset(expected), not_connected, time.monotonic() + req.timeout)
        if req.stream:
            ctx.streams.watch(jid, peer)
        ctx.jobs.add(job)
        ctx.observers.job_published(jid, req.fun, req.tgt, req.tgt_type, expected)
        if job.complete:
            ctx.returns.finish(job)

    def job_get(self, peer: bytes, req: JobGet) -> None:
        self.ctx.returns.flush()  # read your writes: a job published this turn is stored first
        view = self.ctx.cache.get_job(req.jid)
        if view is None:
            raise JobNotFound(f"no job with jid {req.jid} in the job cache")
        active = self.ctx.jobs.get(req.jid)
        running = sorted(active.outstanding()) if active is not None and not active.finished else []
        self.reply(peer, cached_view(view, running))

    def job_list(self, peer: bytes, req: JobList) -> None:
        self.ctx.returns.flush()
        jobs = self.ctx.cache.list_jobs(limit=req.limit, fun=req.fun or None)
        self.reply(peer, JobsReply([JobSummary(j.jid, j.fun, j.tgt, j.tgt_type, j.started, j.minions, j.returned,
                                               j.failed) for j in jobs]))

    def status(self, peer: bytes, req: StatusReq) -> None:
        _, minions = self._target(req.tgt, req.tgt_type)
        sessions, now = self.ctx.sessions, time.monotonic()
        connected = sessions.connected_among(minions, now)
        rows = []
        for mid in minions:
            s = sessions.get(mid)
            if s is None:
                rows.append(MinionStatus(mid, False))
                continue
            seen = now - s.last_seen if s.last_seen > float("-inf") else -1.0
            rows.append(MinionStatus(mid, mid in connected, seen, s.skew, len(s.running), len(s.vms)))
        self.reply(peer, StatusReply(rows))

    def job_active(self, peer: bytes, req: JobActive) -> None:
        _, minions = self._target(req.tgt, req.tgt_type)
        rows = [ActiveRow(mid, job.jid, job.fun, job.age) for mid in minions
                for job in self.ctx.sessions.running_on(mid)]
        self.reply(peer, ActiveReply(rows))

    def job_kill(self, peer: bytes, req: JobKill) -> None:
        """Ask every minion that runs ``jid`` to end it; their returns then say so."""
        sent = []
        for mid, session in list(self.ctx.sessions.by_id.items()):
            if req.jid in session.running:
                self.ctx.send_minion(session, Kill(req.jid))
                sent.append(mid)
        if not sent and self.ctx.cache.get_job(req.jid) is None:
            raise JobNotFound(f"no job with jid {req.jid} in the job cache")
        self.reply(peer, KillSent(req.jid, sorted(sent)))

    def keys_changed(self, peer: bytes, req: KeysChanged) -> None:
        self.reply(peer, Ok(self.ctx.reload_keys()))

    def event_fire(self, peer: bytes, req: EventFire) -> None:
        if not req.tag or not req.tag.isprintable():
            raise InvalidArgument("an event tag must be printable text, e.g. site/backup/done")
        self.ctx.fire(req.tag, req.data)
        self.reply(peer, Ok())
