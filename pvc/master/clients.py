"""Requests from local clients (CLI, Python API): publish a job, read the job cache, notify
key changes, fire an event. One handler per request kind, in a table."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pvc.errors import JobNotFound, PvcError
from pvc.master.jobcache import JobRecord, JobView
from pvc.master.jobs import ActiveJob, JidFactory
from pvc.targeting import Target, compile_target
from pvc.wire.codec import decode, encode, field
from pvc.wire.local import REQUEST_KINDS, PublishRequest
from pvc.wire.messages import Job
from pvc.wire.publication import BROADCAST, seal, topic_for

if TYPE_CHECKING:
    from pvc.master.daemon import Master

log = logging.getLogger(__name__)


def job_view_to_map(view: JobView) -> dict[str, Any]:
    rec = view.record
    return {
        "jid": rec.jid, "fun": rec.fun, "args": rec.args, "kwargs": rec.kwargs, "tgt": rec.tgt,
        "tgt_type": rec.tgt_type, "minions": rec.minions, "started": rec.started, "timeout": rec.timeout,
        "returns": {mid: {"ret": r.ret, "received": r.received} for mid, r in view.returns.items()},
        "missing": dict(view.missing),
    }


class ClientHandlers:
    def __init__(self, master: Master) -> None:
        self.m = master
        self.jids = JidFactory()
        self.table: dict[str, Callable[[bytes, dict[str, Any]], None]] = {
            "publish": self.publish,
            "expected": self.expected,
            "job_get": self.job_get,
            "job_list": self.job_list,
            "keys_changed": self.keys_changed,
            "event_fire": self.event_fire,
            "ping": lambda peer, msg: self.reply(peer, "ok", {}),
        }

    def handle(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            return
        peer, payload = frames
        try:
            msg = decode(payload, REQUEST_KINDS, self.m.cfg.max_message_size)
            self.table[msg["k"]](peer, msg)
        except PvcError as exc:
            self.reply(peer, "error", {"message": str(exc), "type": type(exc).__name__})

    def reply(self, peer: bytes, kind: str, body: dict[str, Any]) -> None:
        self.m.send_client(peer, encode(kind, body))

    def _target(self, tgt: str, tgt_type: str) -> tuple[Target, list[str]]:
        target = compile_target(tgt, tgt_type, self.m.cfg.nodegroups)
        candidates = {mid: self.m.grains.get(mid, {}) for mid in self.m.accepted}
        return target, sorted(target.expected(candidates))

    def expected(self, peer: bytes, msg: dict[str, Any]) -> None:
        _, minions = self._target(field(msg, "tgt", str, 8192), field(msg, "tgt_type", str, 16))
        connected = self.m.sessions.connected()
        self.reply(peer, "minions", {"minions": minions, "connected": [m for m in minions if m in connected]})

    def publish(self, peer: bytes, msg: dict[str, Any]) -> None:
        req = PublishRequest.from_msg(msg)
        target, expected = self._target(req.tgt, req.tgt_type)
        m = self.m
        connected = m.sessions.connected()
        not_connected = frozenset(mid for mid in expected if mid not in connected)
        jid = self.jids.new()
        now = time.time()
        m.record_job(JobRecord(jid, req.fun, req.args, req.kwargs, target.expr, target.tgt_type, expected, now, req.timeout))
        job = ActiveJob(jid, frozenset(expected), not_connected, time.monotonic() + req.timeout)
        if req.stream:
            job.waiters.add(peer)
        m.jobs.add(job)
        self.reply(peer, "published", {"jid": jid, "minions": expected,
                                       "missing": {mid: "not connected" for mid in not_connected}})
        if len(not_connected) < len(expected):
            wire = Job(jid, target.expr, target.tgt_type, req.fun, req.args, req.kwargs, now, req.timeout)
            payload = seal(wire, m.sessions.key.key_id, m.sessions.key.aead, m.identity)
            ids = target.explicit_ids()
            if ids is None:
                m.pub.send_multipart([BROADCAST, payload])
            else:
                for mid in ids:
                    if mid in connected:
                        m.pub.send_multipart([topic_for(mid), payload])
        m.bus.fire(f"pvc/job/{jid}/new", {"fun": req.fun, "tgt": req.tgt, "tgt_type": req.tgt_type,
                                           "minions": expected})
        if not job.outstanding():
            m.finish(job)

    def job_get(self, peer: bytes, msg: dict[str, Any]) -> None:
        jid = field(msg, "jid", str, 64)
        view = self.m.cache.get_job(jid)
        if view is None:
            raise JobNotFound(f"no job with jid {jid} in the job cache")
        body = job_view_to_map(view)
        active = self.m.jobs.get(jid)
        if active is not None and not active.finished:
            body["running"] = sorted(active.outstanding())
        self.reply(peer, "job", body)

    def job_list(self, peer: bytes, msg: dict[str, Any]) -> None:
        limit = int(msg.get("limit", 50)) if isinstance(msg.get("limit", 50), int) else 50
        fun = msg.get("fun") if isinstance(msg.get("fun"), str) else None
        jobs = self.m.cache.list_jobs(limit=max(1, min(limit, 10_000)), fun=fun)
        self.reply(peer, "jobs", {"jobs": [dataclasses.asdict(j) for j in jobs]})

    def keys_changed(self, peer: bytes, msg: dict[str, Any]) -> None:
        revoked = self.m.reload_keys()
        self.reply(peer, "ok", {"revoked": revoked})

    def event_fire(self, peer: bytes, msg: dict[str, Any]) -> None:
        tag = field(msg, "tag", str, 512)
        data = field(msg, "data", dict)
        self.m.bus.fire(tag, data)
        self.reply(peer, "ok", {})
