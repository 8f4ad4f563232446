"""The job cache, run against SQLite and a real PostgreSQL (``pg_dsn`` session fixture)."""

from __future__ import annotations

import os
import stat
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg2
import pytest

from pvc.errors import JobCacheError
from pvc.master.jobcache import JobRecord, SqlJobCache, open_job_cache
from pvc.master.jobcache.payload import TOO_DEEP


@pytest.fixture
def pg_database(pg_dsn: str) -> Iterator[str]:
    """URL of a fresh database on the session's PostgreSQL server, dropped afterwards."""
    name = f"jc_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(pg_dsn)
    admin.autocommit = True
    try:
        admin.cursor().execute(f"CREATE DATABASE {name}")
        yield pg_dsn.rsplit("/", 1)[0] + "/" + name
        admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/cache/jobs.sqlite"
    return request.getfixturevalue("pg_database")


@pytest.fixture
def cache(url: str) -> Iterator[SqlJobCache]:
    c = open_job_cache(url, "")
    yield c
    c.close()


def _job(jid: str, minions=("m1", "m2"), started: float | None = None, fun: str = "test.echo") -> JobRecord:
    return JobRecord(jid, fun, ["hi", 1], {"k": [1, 2]}, "*", "glob", list(minions), started or time.time(), 5.0)


def test_job_returns_and_missing(cache):
    cache.new_job(_job("j1", ("m1", "m2", "m3")))
    assert cache.add_returns([("j1", "m1", {"ok": True, "data": "hi"}, 1.0),
                              ("j1", "m2", {"ok": False, "error": "boom"}, 2.0),
                              ("j1", "m2", {"ok": True}, 2.5)]) == [True, True, False]  # dup in one batch
    assert cache.add_returns([("j1", "m1", {"ok": True, "data": "again"}, 3.0)]) == [False]  # resend
    cache.mark_missing("j1", {"m3": "not connected"})
    cache.mark_missing("j1", {"m3": "timed out", "m1": "timed out"})  # last reason wins; m1 returned
    view = cache.get_job("j1")
    assert view.record == _job("j1", ("m1", "m2", "m3"), started=view.record.started)
    assert view.returns["m1"].ret == {"ok": True, "data": "hi"} and view.returns["m1"].received == 1.0
    assert view.missing == {"m3": "timed out"}
    (summary,) = cache.list_jobs()
    assert (summary.jid, summary.minions, summary.returned, summary.failed) == ("j1", 3, 2, 1)
    assert cache.get_job("nope") is None


def test_writes_are_idempotent(cache):
    """A batch whose commit outcome was unknown is simply written again."""
    batch = ([_job("j1")], [("j1", "m1", {"ok": True, "data": 1}, 1.0)])
    assert cache.write(*batch) == [True]
    assert cache.write(*batch) == [False]
    assert len(cache.list_jobs()) == 1


def test_returns_that_are_not_json_are_stored(cache):
    """msgpack can carry bytes, bytes keys and deep nesting; none of it may fail a batch."""
    deep: list = []
    for _ in range(2000):
        deep = [deep]
    cache.new_job(_job("j1", ("m1", "m2")))
    assert cache.add_returns([("j1", "m1", {"ok": True, "data": {b"key": b"\xffvalue"}}, 1.0),
                              ("j1", "m2", {"ok": True, "data": deep}, 1.0)]) == [True, True]
    returns = cache.get_job("j1").returns
    assert returns["m1"].ret["data"] == {"key": "\ufffdvalue"}
    stored = returns["m2"].ret["data"]
    for _ in range(99):  # the ret map is level 0, its data level 1
        stored = stored[0]
    assert stored == TOO_DEEP


def test_batches_of_50_store_over_5000_returns_per_second(cache):
    minions = [f"m{i}" for i in range(50)]
    jobs = [_job(f"b{i:04d}", minions) for i in range(100)]
    cache.write(jobs, [])
    start = time.perf_counter()
    for job in jobs:
        cache.add_returns([(job.jid, m, {"ok": True, "data": True, "duration": 0.01}, 1.0) for m in minions])
    rate = 5000 / (time.perf_counter() - start)
    assert rate > 5000, f"{rate:.0f} returns/s"
    assert cache.list_jobs(limit=1)[0].returned == 50


def test_list_filters_and_prune(cache):
    cache.write([_job("old", started=100.0), _job("new", ("m1",), fun="test.ping")],
                [("old", "m1", {"ok": True}, 1.0)])
    cache.mark_missing("old", {"m2": "timed out"})
    assert [j.jid for j in cache.list_jobs(fun="test.ping")] == ["new"]
    assert [j.jid for j in cache.list_jobs()] == ["new", "old"]  # newest first
    assert [j.jid for j in cache.list_jobs(limit=1)] == ["new"]
    assert cache.prune(older_than=1000.0) == 1
    assert [j.jid for j in cache.list_jobs()] == ["new"] and cache.get_job("old") is None


def test_reopen_keeps_jobs_and_checks_the_schema_version(url):
    first = open_job_cache(url, "")
    first.new_job(_job("j1"))
    first.close()
    again = open_job_cache(url, "")
    assert again.get_job("j1") is not None
    again._run(lambda cur: cur.execute("UPDATE pvc_schema SET version = 99"))
    again.close()
    with pytest.raises(JobCacheError, match="schema version 99; this pvc reads version 2"):
        open_job_cache(url, "")


def test_sqlite_file_is_private(tmp_path):
    path = tmp_path / "new" / "dir" / "jobs.sqlite"
    open_job_cache("", str(path)).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_postgresql_connection_lost_is_replaced(pg_database, pg_dsn):
    cache = open_job_cache(pg_database, "")
    cache.new_job(_job("j1"))
    admin = psycopg2.connect(pg_dsn)
    admin.autocommit = True
    admin.cursor().execute("SELECT pg_terminate_backend(%s)", (cache.conn.get_backend_pid(),))
    admin.close()
    assert cache.add_returns([("j1", "m1", {"ok": True}, 1.0)]) == [True]  # reconnected, no error
    assert set(cache.get_job("j1").returns) == {"m1"}
    cache.close()


def test_postgresql_masters_create_the_schema_concurrently(pg_database):
    errors: list[Exception] = []

    def open_close() -> None:
        try:
            open_job_cache(pg_database, "").close()
        except Exception as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=open_close) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    cache = open_job_cache(pg_database, "")
    assert cache._run(lambda cur: (cur.execute("SELECT COUNT(*) FROM pvc_schema"), cur.fetchone())[1]) == (1,)
    cache.close()


@pytest.mark.parametrize("url, message", [
    ("mysql://u:secret@x/db", r"unsupported URL 'mysql://u:\*\*\*@x/db'"),
    ("postgresql://u:secret@127.0.0.1:1/db", r"cannot connect to postgresql://u:\*\*\*@127.0.0.1:1/db: "),
    ("postgresql://127.0.0.1:1/db?password=secret", r"cannot connect to postgresql://127.0.0.1:1/db\?password=\*\*\*"),
    ("postgresql://u:secret@127.0.0.1:notaport/db", r"cannot connect to postgresql://u:\*\*\*@127.0.0.1:notaport"),
])
def test_bad_urls_are_clear_errors_without_the_password(url, message):
    with pytest.raises(JobCacheError, match=message) as err:
        open_job_cache(url, "")
    assert "secret" not in str(err.value)


def test_unwritable_sqlite_path_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(JobCacheError, match=r"cannot open .*/file/jobs.sqlite"):
        open_job_cache("", str(tmp_path / "file" / "jobs.sqlite"))
