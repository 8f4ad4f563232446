"""How the job cache stores payloads (msgpack bytes, issue 7) and migrates a version 1 cache."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import msgpack
import psycopg2
import pytest

from pvc.errors import JobCacheError
from pvc.master.jobcache import JobTargets, open_job_cache
from pvc.master.jobcache.payload import TOO_DEEP, pack, unpack
from tests.master import test_jobcache as shared

# the fixtures of test_jobcache.py (SQLite and a real PostgreSQL), shared by name
cache, pg_database, url = shared.cache, shared.pg_database, shared.url
_job = shared._job

MiB = 1024 * 1024


def _raw(url: str) -> Any:
    """A plain DB-API connection to the cache at ``url``."""
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return sqlite3.connect(path)
    return psycopg2.connect(url)


def _sqlite_bytes(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def test_a_16_mib_return_of_control_characters_is_stored_at_its_wire_size(cache, url):
    """Issue 7: as JSON text this return grew the SQLite cache by up to 187 MiB."""
    ret = {"ok": True, "data": "".join(chr(i % 32) for i in range(16 * MiB))}
    wire = len(msgpack.packb(ret, use_bin_type=True))
    cache.new_job(_job("j1"))
    path = url[len("sqlite://"):]
    before = _sqlite_bytes(path) if url.startswith("sqlite://") else 0
    assert cache.add_returns([("j1", "m1", ret, 1.0)]) == [True]
    stored = cache._run(lambda cur: (cur.execute("SELECT length(ret) FROM returns"), cur.fetchone())[1][0])
    assert stored == wire
    if url.startswith("sqlite://"):
        cache._run(lambda cur: cur.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
        assert _sqlite_bytes(path) - before <= wire + MiB // 4
    assert cache.get_job("j1").returns["m1"].ret == ret


def test_payloads_read_back_as_plain_data():
    """What version 1 (JSON text) gave back: bytes as text, keys as strings, tuples as lists."""
    value = {"ok": True, "data": {b"k\xff": b"v\xff", "t": (1, 2.5, None), 7: [b"x"], "n": -(2**63)}}
    assert unpack(pack(value)) == {"ok": True, "data": {"k\ufffd": "v\ufffd", "t": [1, 2.5, None], "7": ["x"],
                                                        "n": -(2**63)}}


@pytest.mark.parametrize("value, read", [
    ({1, 2}, "{1, 2}"),                             # not msgpack: kept as its repr
    ([2**70], [str(2**70)]),                         # too big for msgpack
    ({"s": "a\udcffb"}, {"s": "a?b"}),               # a lone surrogate cannot be UTF-8
    ({(1, 2): "tuple key"}, {"(1, 2)": "tuple key"}),
])
def test_values_msgpack_cannot_carry_are_stored_as_plain_copies(value, read):
    assert unpack(pack(value)) == read


def test_nesting_deeper_than_msgpack_allows_is_cut():
    deep: list = []
    for _ in range(2000):
        deep = [deep]
    stored = unpack(pack(deep))
    for _ in range(100):
        stored = stored[0]
    assert stored == TOO_DEEP


V1_SCHEMA = (
    "CREATE TABLE pvc_schema (version INTEGER NOT NULL)",
    "INSERT INTO pvc_schema (version) VALUES (1)",
    """CREATE TABLE jobs (jid TEXT PRIMARY KEY, fun TEXT NOT NULL, args TEXT NOT NULL, kwargs TEXT NOT NULL,
        tgt TEXT NOT NULL, tgt_type TEXT NOT NULL, minions TEXT NOT NULL, started DOUBLE PRECISION NOT NULL,
        timeout DOUBLE PRECISION NOT NULL, usr TEXT NOT NULL)""",
    "CREATE INDEX jobs_started ON jobs (started)",
    """CREATE TABLE returns (jid TEXT NOT NULL, minion TEXT NOT NULL, ret TEXT NOT NULL, ok INTEGER NOT NULL,
        received DOUBLE PRECISION NOT NULL, PRIMARY KEY (jid, minion))""",
    "CREATE TABLE missing (jid TEXT NOT NULL, minion TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (jid, minion))",
)


def _write_v1_cache(url: str, jobs: int) -> None:
    """A cache as pvc with schema version 1 (JSON text) left it."""
    conn = _raw(url)
    q = (lambda s: s) if url.startswith("sqlite://") else (lambda s: s.replace("?", "%s"))
    cur = conn.cursor()
    for stmt in V1_SCHEMA:
        cur.execute(stmt)
    for i in range(jobs):
        cur.execute(q("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                    (f"j{i:04d}", "test.echo", '["hi",1]', '{"k":[1,2]}', "*", "glob", '["m1","m2","m3"]',
                     1000.0 + i, 5.0, "alice"))
        cur.executemany(q("INSERT INTO returns VALUES (?, ?, ?, ?, ?)"),
                        [(f"j{i:04d}", "m1", '{"ok":true,"data":"\\u0001 caf\\u00e9"}', 1, 2.0),
                         (f"j{i:04d}", "m2", '{"ok":false,"error":"boom"}', 0, 3.0)])
        cur.execute(q("INSERT INTO missing VALUES (?, ?, ?)"), (f"j{i:04d}", "m3", "timed out"))
    conn.commit()
    conn.close()


def test_a_version_1_cache_is_migrated_when_opened(url):
    _write_v1_cache(url, jobs=2500)  # more than one page of the copy
    cache = open_job_cache(url, "")
    try:
        view = cache.get_job("j1234")
        assert (view.record.args, view.record.kwargs, view.record.minions, view.record.user) == (
            ["hi", 1], {"k": [1, 2]}, ["m1", "m2", "m3"], "alice")
        assert view.returns["m1"].ret == {"ok": True, "data": "\x01 café"} and view.returns["m2"].received == 3.0
        assert view.missing == {"m3": "timed out"}
        newest = cache.list_jobs(limit=1)[0]
        assert (newest.jid, newest.minions, newest.returned, newest.failed) == ("j2499", 3, 2, 1)
        assert cache.lookup_jobs(["j0000"])["j0000"] == JobTargets(
            "j0000", frozenset({"m1", "m2", "m3"}), frozenset({"m1", "m2"}), 1000.0, 5.0, frozenset({"m3"}))
        assert cache.add_returns([("j0000", "m3", {"ok": True}, 4.0)]) == [True]
        tables = cache._run(lambda cur: (cur.execute("SELECT version FROM pvc_schema"), cur.fetchall())[1])
        assert tables == [(2,)]
    finally:
        cache.close()
    again = open_job_cache(url, "")  # the second open finds version 2: nothing to do
    assert len(again.get_job("j0000").returns) == 3
    again.close()


def test_a_newer_cache_is_refused_with_what_to_do(url):
    conn = _raw(url)
    cur = conn.cursor()
    cur.execute("CREATE TABLE pvc_schema (version INTEGER NOT NULL)")
    cur.execute("INSERT INTO pvc_schema (version) VALUES (3)")
    conn.commit()
    conn.close()
    with pytest.raises(JobCacheError) as err:
        open_job_cache(url, "")
    assert "\n" not in str(err.value)
    assert "has schema version 3; this pvc reads version 2: use a matching pvc or a new job_cache location" in str(
        err.value)


def test_v1_json_text_becomes_msgpack_bytes(url):
    _write_v1_cache(url, jobs=1)
    open_job_cache(url, "").close()
    conn = _raw(url)
    cur = conn.cursor()
    cur.execute("SELECT ret FROM returns WHERE minion = 'm2'")
    assert msgpack.unpackb(bytes(cur.fetchone()[0]), raw=False) == {"ok": False, "error": "boom"}
    conn.close()
