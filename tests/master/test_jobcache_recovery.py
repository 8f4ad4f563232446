"""What a restarted master asks the job cache: lookup_jobs and open_jobs, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pvc.master.jobcache import JobTargets, SqlJobCache
from tests.master import test_jobcache as shared

# the fixtures of test_jobcache.py (SQLite and a real PostgreSQL), shared by name
cache, pg_database, url = shared.cache, shared.pg_database, shared.url
_job = shared._job

M3 = ("m1", "m2", "m3")


def _count_statements(cache: SqlJobCache) -> list[str]:
    """Record every statement the cache sends from now on (one statement = one round trip)."""
    sent: list[str] = []
    connection, real_cursor = cache.conn, cache.conn.cursor

    class Counting:
        def __init__(self) -> None:
            self.cur = real_cursor()

        def execute(self, sql: str, params: Any = ()) -> Any:
            sent.append(sql)
            return self.cur.execute(sql, params)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.cur, name)

    class Conn:
        def cursor(self) -> Counting:
            return Counting()

        def __getattr__(self, name: str) -> Any:
            return getattr(connection, name)

    cache.conn = Conn()
    return sent


def test_lookup_jobs_says_who_is_expected_returned_and_missing(cache):
    cache.write([_job("j1", M3, started=1000.0), _job("j2", ("m1",), started=1001.0)],
                [("j1", "m1", {"ok": True}, 1.0)])
    cache.mark_missing("j1", {"m3": "timed out", "m1": "timed out"})  # m1 returned: not missing
    found = cache.lookup_jobs(["j1", "j2", "nope"])
    assert found == {
        "j1": JobTargets("j1", frozenset(M3), frozenset({"m1"}), 1000.0, 5.0, frozenset({"m3"})),
        "j2": JobTargets("j2", frozenset({"m1"}), frozenset(), 1001.0, 5.0),
    }
    assert found["j1"].outstanding == {"m2"}
    assert cache.lookup_jobs([]) == {}


def test_lookup_jobs_is_one_statement_for_1000_jobs(cache):
    """One query whatever the number of jobs (its speed is the benchmark's, not a timed test's)."""
    minions = [f"m{i}" for i in range(20)]
    jobs = [_job(f"j{i:04d}", minions) for i in range(1000)]
    cache.write(jobs, [(job.jid, m, {"ok": True}, 1.0) for job in jobs for m in minions[:10]])
    jids = [job.jid for job in jobs]
    sent = _count_statements(cache)
    found = cache.lookup_jobs(jids)
    assert len(sent) == 1
    assert len(found) == 1000 and all(len(t.returned) == 10 and len(t.expected) == 20 for t in found.values())


def test_a_resent_return_is_stored_once_and_reported_as_not_new(cache):
    cache.new_job(_job("j1"))
    item = ("j1", "m1", {"ok": True, "data": 1}, 1.0)
    assert cache.write([], [item, item]) == [True, False]
    assert cache.write([], [item]) == [False]
    assert cache.lookup_jobs(["j1"])["j1"].returned == {"m1"}
    assert len(cache.get_job("j1").returns) == 1


def test_open_jobs_are_those_still_waiting_for_a_minion(cache):
    now = time.time()
    cache.write([
        _job("too_old", M3, started=now - 100),
        _job("all_returned", ("m1",), started=now - 9),
        _job("finished", ("m1", "m2"), started=now - 8),   # m2 marked missing
        _job("late", ("m1", "m2"), started=now - 7),       # m2 marked missing, then returned late
        _job("waiting_m2", ("m1", "m2"), started=now - 6),
        _job("waiting_all", M3, started=now - 5),
        _job("waiting_m3", M3, started=now - 4),          # m1 missing, m2 returned
        _job("no_minions", (), started=now - 3),
    ], [(jid, "m1", {"ok": True}, now) for jid in ("too_old", "all_returned", "finished", "late", "waiting_m2")])
    cache.mark_missing("finished", {"m2": "timed out"})
    cache.mark_missing("late", {"m2": "timed out"})
    cache.add_returns([("late", "m2", {"ok": True}, now), ("waiting_m3", "m2", {"ok": False}, now)])
    cache.mark_missing("waiting_m3", {"m1": "not connected"})

    found = cache.open_jobs(since=now - 50, limit=100)
    assert [(t.jid, t.outstanding) for t in found] == [
        ("waiting_m2", {"m2"}), ("waiting_all", set(M3)), ("waiting_m3", {"m3"})]  # oldest first
    assert found[0] == JobTargets("waiting_m2", frozenset({"m1", "m2"}), frozenset({"m1"}), now - 6, 5.0)
    assert [t.jid for t in cache.open_jobs(since=now - 50, limit=2)] == ["waiting_m2", "waiting_all"]
    assert [t.jid for t in cache.open_jobs(since=now - 200, limit=1)] == ["too_old"]
    assert cache.open_jobs(since=now, limit=100) == []


def test_open_jobs_is_one_statement(cache):
    cache.new_job(_job("j1"))
    sent = _count_statements(cache)
    assert [t.jid for t in cache.open_jobs(since=0.0, limit=10)] == ["j1"]
    assert len(sent) == 1


@pytest.mark.parametrize("minions", [("m1", "m1", "m2"), ("m1",)])
def test_duplicate_expected_minions_count_once(cache, minions):
    cache.write([_job("j1", minions)], [("j1", "m1", {"ok": True}, 1.0)])
    assert [t.jid for t in cache.open_jobs(since=0.0, limit=10)] == (["j1"] if "m2" in minions else [])
    assert cache.list_jobs()[0].minions == len(set(minions))
