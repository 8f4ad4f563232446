"""pvc.master.returns: accept once, only from targeted minions, stored before acked, looked up
in the job cache when the job is not in memory; a cache failure acks nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from pvc import events
from pvc.errors import JobCacheError
from pvc.master.jobcache import JobRecord, SqlJobCache, open_job_cache
from pvc.master.jobs import ActiveJob, ActiveJobs
from pvc.master.observers import BusObserver, ClientStreams
from pvc.master.returns import Delivery, Returns
from pvc.observers import Observers
from pvc.results import RESTARTED, TIMED_OUT
from pvc.wire.inner import Lost, Ret, ReturnRec
from pvc.wire.local import REPLIES, Done, Published, RetReply

JID = "20261130064901000001"
OK = ReturnRec(True, {"answer": 42})


class Out:
    def __init__(self) -> None:
        self.acks: list[tuple[str, list[str]]] = []
        self.client: list[tuple[bytes, Any]] = []
        self.events: list[tuple[str, dict]] = []
        self.running: set[tuple[str, str]] = set()
        def to_client(peer: bytes, data: bytes) -> None:
            self.client.append((peer, REPLIES.decode_message(data, 1 << 20)))

        self.streams = ClientStreams(to_client)
        bus = BusObserver(lambda tag, data: self.events.append((tag, data)))
        self.delivery = Delivery(lambda mid, jids: self.acks.append((mid, list(jids))), to_client,
                                 Observers([bus, self.streams]), lambda mid, jid: (mid, jid) in self.running)


class FlakyCache:
    """A real cache whose writes or lookups can be made to fail."""

    def __init__(self, real: SqlJobCache) -> None:
        self.real = real
        self.fail_write = False
        self.fail_lookup = False

    def write(self, jobs: Any, returns: Any) -> list[bool]:
        if self.fail_write:
            raise JobCacheError("job cache: disk full")
        return self.real.write(jobs, returns)

    def lookup_jobs(self, jids: Any) -> Any:
        if self.fail_lookup:
            raise JobCacheError("job cache: database is locked")
        return self.real.lookup_jobs(jids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture
def cache(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = open_job_cache("", str(tmp_path / "jobs.sqlite"))
    yield c
    c.close()


def _record(jid: str = JID, minions: tuple[str, ...] = ("m1", "m2")) -> JobRecord:
    return JobRecord(jid, "test.ping", [], {}, "m*", "glob", list(minions), time.time(), 5.0)


def _active(jid: str = JID, minions: tuple[str, ...] = ("m1", "m2")) -> ActiveJob:
    return ActiveJob(jid, frozenset(minions), frozenset(), time.monotonic() + 5)


def _setup(cache: Any, waiters: tuple[bytes, ...] = ()) -> tuple[Returns, ActiveJobs, Out, ActiveJob]:
    jobs, out = ActiveJobs(), Out()
    rets = Returns(cache, jobs, out.delivery, ack_quiet=0.0)
    job = _active()
    jobs.add(job)
    for peer in waiters:
        out.streams.watch(JID, peer)
    rets.record_job(_record(), b"client", Published(JID, ["m1", "m2"]).encode())
    rets.flush()  # the job record is stored, then its publisher hears the jid
    assert out.client == [(b"client", Published(JID, ["m1", "m2"]))]
    out.client.clear()
    return rets, jobs, out, job


def _stored(cache: Any, jid: str = JID) -> dict[str, Any]:
    view = cache.get_job(jid)
    return {} if view is None else view.returns


def test_accepted_once_stored_then_acked(cache: SqlJobCache) -> None:
    rets, _, out, job = _setup(cache, waiters=(b"client",))
    rets.on_return("m1", Ret(JID, OK))
    assert not out.acks and not out.events  # nothing before the write
    rets.flush()
    assert out.acks == [("m1", [JID])]
    assert set(_stored(cache)) == {"m1"} and _stored(cache)["m1"].ret["data"] == {"answer": 42}
    assert out.events == [(events.job_ret(JID, "m1"), {"id": "m1", **OK.to_map()})]
    assert out.client == [(b"client", RetReply(JID, "m1", OK))]
    assert job.returned == {"m1"} and not job.finished


def test_resend_acked_again_but_stored_once(cache: SqlJobCache) -> None:
    rets, _, out, _ = _setup(cache)
    rets.on_return("m1", Ret(JID, OK))
    rets.flush()
    rets.on_return("m1", Ret(JID, ReturnRec(False, "forged second answer")))
    rets.on_return("m1", Ret(JID, OK))
    rets.flush()
    assert out.acks == [("m1", [JID]), ("m1", [JID, JID])]
    assert len(out.events) == 1 and _stored(cache)["m1"].ret["ok"] is True


def test_return_for_a_job_that_did_not_target_the_sender_refused(cache: SqlJobCache) -> None:
    rets, _, out, job = _setup(cache)
    rets.on_return("m3", Ret(JID, OK))
    rets.flush()
    assert rets.refused == 1 and not out.acks and not out.events
    assert "m3" not in _stored(cache) and "m3" not in job.returned


def test_unknown_job_refused(cache: SqlJobCache) -> None:
    rets, _, out, _ = _setup(cache)
    rets.on_return("m1", Ret("20261130064901999999", OK))
    rets.flush()
    assert rets.refused == 1 and not out.acks and not out.events


def test_all_returned_finishes_the_job(cache: SqlJobCache) -> None:
    rets, _, out, job = _setup(cache, waiters=(b"c",))
    rets.on_return("m1", Ret(JID, OK))
    rets.on_return("m2", Ret(JID, OK))
    rets.flush()
    assert job.finished and not out.streams.watchers
    assert [m for _, m in out.client][-1] == Done(JID, {})


def test_lost_job_reports(cache: SqlJobCache) -> None:
    rets, _, out, job = _setup(cache, waiters=(b"c",))
    rets.on_lost("m2", Lost(JID, RESTARTED))
    rets.on_return("m1", Ret(JID, OK))
    rets.on_lost("m3", Lost(JID, RESTARTED))  # not targeted: refused
    rets.flush()
    assert sorted(out.acks) == [("m1", [JID]), ("m2", [JID])] and rets.refused == 1
    assert job.lost == {"m2": RESTARTED} and job.finished
    assert [m for _, m in out.client][-1] == Done(JID, {"m2": RESTARTED})
    assert cache.get_job(JID).missing == {"m2": RESTARTED}


def test_lost_after_a_return_does_not_mark_missing(cache: SqlJobCache) -> None:
    rets, _, out, job = _setup(cache)
    rets.on_return("m1", Ret(JID, OK))
    rets.flush()
    rets.on_lost("m1", Lost(JID, RESTARTED))
    rets.flush()
    assert "m1" not in job.lost and out.acks[-1] == ("m1", [JID])


def test_finish_records_who_did_not_return(cache: SqlJobCache) -> None:
    rets, _, out, job = _setup(cache, waiters=(b"c",))
    rets.on_return("m1", Ret(JID, OK))
    rets.flush()
    rets.finish(job)
    assert cache.get_job(JID).missing == {"m2": TIMED_OUT}
    assert out.client[-1] == (b"c", Done(JID, {"m2": TIMED_OUT}))


# -- jobs not in memory: the cache decides -------------------------------------------------------

def _cached_job(cache: SqlJobCache) -> tuple[Returns, Out]:
    cache.write([_record()], [])
    out = Out()
    return Returns(cache, ActiveJobs(), out.delivery, ack_quiet=0.0), out


def test_return_for_a_job_only_in_the_cache_is_stored(cache: SqlJobCache) -> None:
    rets, out = _cached_job(cache)
    rets.on_return("m1", Ret(JID, OK))
    rets.on_return("m3", Ret(JID, OK))  # the cached job did not target m3
    rets.on_return("m1", Ret("20261130064901999999", OK))  # nor does the cache know this job
    assert rets.busy
    rets.flush()
    assert out.acks == [("m1", [JID])] and rets.refused == 2
    assert set(_stored(cache)) == {"m1"}
    assert out.events == [(events.job_ret(JID, "m1"), {"id": "m1", **OK.to_map()})]


def test_resend_for_a_cached_job_acked_not_stored_again(cache: SqlJobCache) -> None:
    rets, out = _cached_job(cache)
    rets.on_return("m1", Ret(JID, OK))
    rets.flush()
    rets.on_return("m1", Ret(JID, ReturnRec(False, "second")))
    rets.flush()
    assert out.acks == [("m1", [JID]), ("m1", [JID])]
    assert len(out.events) == 1 and _stored(cache)["m1"].ret["ok"] is True


def test_return_and_resend_in_one_turn_for_a_cached_job_delivered_once(cache: SqlJobCache) -> None:
    rets, out = _cached_job(cache)
    rets.on_return("m1", Ret(JID, OK))
    rets.on_return("m1", Ret(JID, OK))
    rets.flush()
    assert set(_stored(cache)) == {"m1"}
    assert len(out.events) == 1


def test_lost_for_a_cached_job_marks_it_missing(cache: SqlJobCache) -> None:
    rets, out = _cached_job(cache)
    rets.on_lost("m2", Lost(JID, RESTARTED))
    rets.flush()
    assert out.acks == [("m2", [JID])]
    assert cache.get_job(JID).missing == {"m2": RESTARTED}


def test_rearm_after_restart_accepts_returns(cache: SqlJobCache) -> None:
    cache.write([_record()], [(JID, "m1", OK.to_map(), time.time())])
    out = Out()
    jobs = ActiveJobs()
    rets = Returns(cache, jobs, out.delivery, ack_quiet=0.0)
    assert rets.rearm(time.time() - 3600) == 1
    job = jobs.get(JID)
    assert job is not None and job.returned == {"m1"}
    rets.on_return("m1", Ret(JID, OK))  # resend of a stored return
    rets.on_return("m2", Ret(JID, OK))
    rets.flush()
    assert sorted(out.acks) == [("m1", [JID]), ("m2", [JID])]
    assert len(out.events) == 1 and set(_stored(cache)) == {"m1", "m2"}


# -- cache failures ------------------------------------------------------------------------------

def test_write_failure_acks_nothing_and_the_resend_is_stored(cache: SqlJobCache) -> None:
    flaky = FlakyCache(cache)
    jobs, out = ActiveJobs(), Out()
    rets = Returns(flaky, jobs, out.delivery, ack_quiet=0.0)  # type: ignore[arg-type]
    job = _active()
    jobs.add(job)
    rets.record_job(_record(), b"client", Published(JID, ["m1", "m2"]).encode())
    flaky.fail_write = True
    rets.on_return("m1", Ret(JID, OK))
    rets.on_lost("m2", Lost(JID, RESTARTED))
    rets.flush()
    # nothing stored, so nothing acked, and the publisher has not heard the jid yet
    assert not out.acks and not out.events and not out.client
    assert "m1" not in job.returned and cache.get_job(JID) is None
    assert not rets.busy or rets.retry_at > time.monotonic()  # waits before retrying
    flaky.fail_write = False
    rets.retry_at = 0.0
    rets.on_return("m1", Ret(JID, OK))  # the minion resends
    rets.flush()
    assert out.acks == [("m1", [JID])] and set(_stored(cache)) == {"m1"}  # the job record was kept for the retry
    assert out.client[0] == (b"client", Published(JID, ["m1", "m2"]))


def test_lookup_failure_acks_nothing_and_does_not_raise(cache: SqlJobCache) -> None:
    flaky = FlakyCache(cache)
    cache.write([_record()], [])
    out = Out()
    rets = Returns(flaky, ActiveJobs(), out.delivery, ack_quiet=0.0)  # type: ignore[arg-type]
    flaky.fail_lookup = True
    rets.on_return("m1", Ret(JID, OK))
    rets.flush()
    assert not out.acks and not out.events
    flaky.fail_lookup = False
    rets.retry_at = 0.0
    rets.on_return("m1", Ret(JID, OK))
    rets.flush()
    assert out.acks == [("m1", [JID])]


def test_acks_wait_while_returns_keep_coming_then_go_out_together(cache: SqlJobCache) -> None:
    """Delayed acks: a turn that stored returns holds its acks; once no return came for
    ``ack_quiet`` they go out, one box per minion with all its jids, and only after their
    returns reached the client."""
    rets, _, out, job = _setup(cache, waiters=(b"client",))
    rets.ack_quiet, rets.ack_wait = 0.05, lambda: 60.0
    rets.on_return("m1", Ret(JID, OK))
    rets.flush()
    assert not out.acks and out.client == [(b"client", RetReply(JID, "m1", OK))]  # stored and delivered
    rets.on_return("m2", Ret(JID, OK))
    rets.on_return("m1", Ret(JID, OK))  # m1's resend: acked again, stored once
    rets.flush()
    assert not out.acks  # still busy: a return was stored this turn
    rets.flush()
    assert not out.acks  # not quiet for long enough yet
    time.sleep(0.06)
    rets.flush()
    assert sorted(out.acks) == [("m1", [JID, JID]), ("m2", [JID])]
    rets.flush()
    assert len(out.acks) == 2 and job.finished


def test_acks_go_out_after_the_delay_even_under_a_steady_stream(cache: SqlJobCache) -> None:
    rets, jobs, out, _ = _setup(cache)
    rets.ack_quiet, rets.ack_wait = 60.0, lambda: 0.2
    for i in range(3):
        jid = f"{JID[:-1]}{i}"
        jobs.add(_active(jid))
        cache.write([_record(jid)], [])
        rets.on_return("m1", Ret(jid, OK))
        rets.flush()
    assert not out.acks
    time.sleep(0.25)
    rets.on_return("m2", Ret(JID, OK))
    rets.flush()  # busy again, but the oldest ack waited long enough: all go
    assert sorted(out.acks) == [("m1", [f"{JID[:-1]}{i}" for i in range(3)]), ("m2", [JID])]


def test_acks_of_jobs_run_back_to_back_share_one_box_per_minion(cache: SqlJobCache) -> None:
    """Jobs one after another, each published a moment after the last one's returns: their
    acks wait for a quiet spell and go out together, one box per minion for all its jobs."""
    rets, jobs, out, _ = _setup(cache)
    rets.ack_quiet, rets.ack_wait = 0.05, lambda: 60.0
    jids = [f"{JID[:-1]}{i}" for i in range(3)]
    for jid in jids:
        jobs.add(_active(jid))
        cache.write([_record(jid)], [])
        for mid in ("m1", "m2"):
            rets.on_return(mid, Ret(jid, OK))
        rets.flush()
        rets.flush()  # the turn between two jobs: quiet, but not for long
    assert not out.acks
    time.sleep(0.06)
    rets.flush()
    assert sorted(out.acks) == [("m1", jids), ("m2", jids)]


def test_a_new_job_holds_the_last_jobs_acks(cache: SqlJobCache) -> None:
    """Publishing 10,000 minions' job takes the master's loop a while; the acks of the job
    before must not go out at the end of that turn, in the middle of the new job's start."""
    rets, jobs, out, _ = _setup(cache)
    rets.ack_quiet, rets.ack_wait = 0.05, lambda: 60.0
    rets.on_return("m1", Ret(JID, OK))
    rets.flush()
    time.sleep(0.06)  # the next job's publication took this long
    jid = f"{JID[:-1]}9"
    jobs.add(_active(jid))
    rets.record_job(_record(jid), b"client", Published(jid, ["m1", "m2"]).encode())
    rets.flush()
    assert not out.acks
    time.sleep(0.06)
    rets.flush()
    assert out.acks == [("m1", [JID])]


def test_ack_wait_follows_the_fleet_pace() -> None:
    """A quarter of the heartbeat interval the master asks of its fleet (a minion's first
    resend waits one interval), within 0.5-10 s."""
    from pvc.master.returns import ack_wait

    assert ack_wait(2.0) == 0.5 and ack_wait(12.0) == 3.0 and ack_wait(40.0) == 10.0 and ack_wait(3600.0) == 10.0


def test_an_ack_never_goes_out_for_a_return_still_unstored(cache: SqlJobCache) -> None:
    """While the cache waits to retry a failed write, a quiet turn must not ack the returns
    that failed (nor ones that arrived since): stored before acked."""
    flaky = FlakyCache(cache)
    jobs, out = ActiveJobs(), Out()
    rets = Returns(flaky, jobs, out.delivery, ack_quiet=0.0)  # type: ignore[arg-type]
    jobs.add(_active())
    cache.write([_record()], [])
    flaky.fail_write = True
    rets.on_return("m1", Ret(JID, OK))
    rets.flush()
    rets.on_return("m2", Ret(JID, OK))  # arrives during the retry wait
    for _ in range(3):
        rets.flush()
    assert not out.acks
    flaky.fail_write = False
    rets.retry_at = 0.0
    rets.flush()
    rets.flush()
    assert out.acks == [("m2", [JID])] and set(_stored(cache)) == {"m2"}  # m1 resends its own later


def test_a_huge_ack_is_cut_into_boxes_a_minion_accepts(cache: SqlJobCache) -> None:
    from pvc.master.returns import ACK_CHUNK

    rets, _, out, _ = _setup(cache)
    for _ in range(ACK_CHUNK + 5):  # a return and its resends: each is acked
        rets.on_return("m1", Ret(JID, OK))
    rets.flush()
    assert [(mid, len(jids)) for mid, jids in out.acks] == [("m1", ACK_CHUNK), ("m1", 5)]
