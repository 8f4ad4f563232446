"""The job cache, run against SQLite and a real PostgreSQL (``pg_dsn`` session fixture)."""

from __future__ import annotations

import time
import uuid

import pytest

from pvc.errors import JobCacheError
from pvc.master.jobcache import JobRecord, open_job_cache


@pytest.fixture(params=["sqlite", "postgresql"])
def cache(request, tmp_path):
    if request.param == "sqlite":
        c = open_job_cache("", str(tmp_path / "cache" / "jobs.sqlite"))
    else:
        dsn = request.getfixturevalue("pg_dsn")
        import psycopg2

        db = f"jc_{uuid.uuid4().hex[:10]}"
        admin = psycopg2.connect(dsn)
        admin.autocommit = True
        admin.cursor().execute(f"CREATE DATABASE {db}")
        url = dsn.rsplit("/", 1)[0] + "/" + db
        c = open_job_cache(url, "")
    yield c
    c.close()


def _job(jid: str, minions=("m1", "m2"), started: float | None = None) -> JobRecord:
    return JobRecord(jid, "test.echo", ["hi", 1], {"k": [1, 2]}, "*", "glob", list(minions),
                     started or time.time(), 5.0)


def test_job_returns_and_missing(cache):
    cache.new_job(_job("j1", ("m1", "m2", "m3")))
    assert cache.add_returns([("j1", "m1", {"ok": True, "data": "hi"}, 1.0),
                              ("j1", "m2", {"ok": False, "error": "boom"}, 2.0)]) == [True, True]
    assert cache.add_returns([("j1", "m1", {"ok": True, "data": "again"}, 3.0)]) == [False]  # resend
    cache.mark_missing("j1", {"m3": "timed out"})
    view = cache.get_job("j1")
    assert view.record.args == ["hi", 1] and view.record.kwargs == {"k": [1, 2]}
    assert view.returns["m1"].ret == {"ok": True, "data": "hi"}
    assert view.missing == {"m3": "timed out"}
    (summary,) = cache.list_jobs()
    assert (summary.minions, summary.returned, summary.failed) == (3, 2, 1)
    assert cache.get_job("nope") is None


def test_batch_write_is_one_transaction_and_fast(cache):
    jobs = [_job(f"b{i:05d}", ("m1",)) for i in range(500)]
    start = time.monotonic()
    for i in range(0, 500, 50):
        cache.write(jobs[i:i + 50], [(j.jid, "m1", {"ok": True, "data": True}, 0.0) for j in jobs[max(0, i - 50):i]])
    elapsed = time.monotonic() - start
    assert len(cache.list_jobs(limit=1000)) == 500
    assert elapsed < 5.0


def test_list_filters_and_prune(cache):
    cache.new_job(_job("old", started=100.0))
    cache.new_job(JobRecord("new", "test.ping", [], {}, "*", "glob", ["m1"], time.time(), 5.0))
    assert [j.jid for j in cache.list_jobs(fun="test.ping")] == ["new"]
    assert cache.prune(older_than=1000.0) == 1
    assert [j.jid for j in cache.list_jobs()] == ["new"]


def test_bad_urls_are_clear_errors(tmp_path):
    with pytest.raises(JobCacheError, match="unsupported URL"):
        open_job_cache("mysql://x", "")
    with pytest.raises(JobCacheError, match=r"cannot connect to postgresql://u:\*\*\*@127.0.0.1:1/db") as err:
        open_job_cache("postgresql://u:secret@127.0.0.1:1/db", "")
    assert "secret" not in str(err.value)
