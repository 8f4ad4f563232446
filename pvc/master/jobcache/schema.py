"""The job cache's tables, their version, and the migration from older versions.

Version 2 (this one) stores args, kwargs, minion lists and returns as msgpack bytes
(:mod:`.payload`) and keeps the number of distinct expected minions in ``jobs.nminions`` so
that open jobs are found without decoding lists. Version 1 stored JSON text; a version 1
cache is migrated in place, in one transaction, the first time a version 2 master opens it
(the other masters wait on the schema lock and then see version 2): about 75,000 rows/s on
SQLite, so a cache of a million returns delays the first start by ~15 s. A version newer than this
pvc knows is refused: it cannot know what it would lose.

Example::

    create_or_migrate(cur, "sqlite", "BLOB", "?")    # inside the schema-creation transaction
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from pvc.errors import JobCacheError
from pvc.master.jobcache.payload import pack

SCHEMA_VERSION = 2
VERSION_TABLE = "CREATE TABLE IF NOT EXISTS pvc_schema (version INTEGER NOT NULL)"
TABLES = (  # {blob}: BLOB on SQLite, BYTEA on PostgreSQL
    """CREATE TABLE IF NOT EXISTS jobs (
        jid TEXT PRIMARY KEY, fun TEXT NOT NULL, args {blob} NOT NULL, kwargs {blob} NOT NULL,
        tgt TEXT NOT NULL, tgt_type TEXT NOT NULL, minions {blob} NOT NULL, nminions INTEGER NOT NULL,
        started DOUBLE PRECISION NOT NULL, timeout DOUBLE PRECISION NOT NULL, usr TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS jobs_started ON jobs (started)",
    """CREATE TABLE IF NOT EXISTS returns (
        jid TEXT NOT NULL, minion TEXT NOT NULL, ret {blob} NOT NULL, ok INTEGER NOT NULL,
        received DOUBLE PRECISION NOT NULL, PRIMARY KEY (jid, minion))""",
    """CREATE TABLE IF NOT EXISTS missing (
        jid TEXT NOT NULL, minion TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (jid, minion))""",
)
PAGE = 1000  # rows converted per query while migrating


def create_or_migrate(cur: Any, dialect: str, blob: str, param: str) -> None:
    """Create the tables, or migrate them from version 1, or refuse another version."""
    q: Callable[[str], str] = (lambda sql: sql) if param == "?" else (lambda sql: sql.replace("?", param))
    cur.execute(VERSION_TABLE)
    cur.execute("SELECT version FROM pvc_schema")
    row = cur.fetchone()
    version = None if row is None else row[0]
    if version == 1:
        _migrate_v1(cur, blob, q)
        cur.execute(q("UPDATE pvc_schema SET version = ?"), (SCHEMA_VERSION,))
    elif version is None:
        _create_tables(cur, blob)
        cur.execute(q("INSERT INTO pvc_schema (version) VALUES (?)"), (SCHEMA_VERSION,))
    elif version != SCHEMA_VERSION:
        raise JobCacheError(f"job cache ({dialect}) has schema version {version}; this pvc reads version "
                            f"{SCHEMA_VERSION}: use a matching pvc or a new job_cache location")


def _create_tables(cur: Any, blob: str) -> None:
    for stmt in TABLES:
        cur.execute(stmt.format(blob=blob))


def _migrate_v1(cur: Any, blob: str, q: Callable[[str], str]) -> None:
    """JSON text -> msgpack bytes: the old tables are renamed, copied a page at a time (keyset
    paging: bounded memory on a cache of millions of returns), then dropped."""
    cur.execute("DROP INDEX IF EXISTS jobs_started")
    cur.execute("ALTER TABLE jobs RENAME TO jobs_v1")
    cur.execute("ALTER TABLE returns RENAME TO returns_v1")
    _create_tables(cur, blob)
    insert_job = q("INSERT INTO jobs (jid, fun, args, kwargs, tgt, tgt_type, minions, nminions, started, timeout, "
                   "usr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    jobs = "SELECT jid, fun, args, kwargs, tgt, tgt_type, minions, started, timeout, usr FROM jobs_v1 {} ORDER BY jid"
    for rows in _pages(cur, q, jobs, "WHERE jid > ?", lambda r: (r[0],)):
        cur.executemany(insert_job, [
            (jid, fun, _repack(args), _repack(kwargs), tgt, tgt_type, _repack(minions), len(set(json.loads(minions))),
             started, timeout, usr)
            for jid, fun, args, kwargs, tgt, tgt_type, minions, started, timeout, usr in rows])
    insert_return = q("INSERT INTO returns (jid, minion, ret, ok, received) VALUES (?, ?, ?, ?, ?)")
    returns = "SELECT jid, minion, ret, ok, received FROM returns_v1 {} ORDER BY jid, minion"
    for rows in _pages(cur, q, returns, "WHERE jid > ? OR (jid = ? AND minion > ?)",
                       lambda r: (r[0], r[0], r[1])):
        cur.executemany(insert_return, [(jid, mid, _repack(ret), ok, received) for jid, mid, ret, ok, received in rows])
    cur.execute("DROP TABLE jobs_v1")
    cur.execute("DROP TABLE returns_v1")


def _pages(cur: Any, q: Callable[[str], str], select: str, after: str,
           key: Callable[[tuple[Any, ...]], tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    cur.execute(q(select.format("") + f" LIMIT {PAGE}"))
    rows = cur.fetchall()
    while rows:
        yield rows
        cur.execute(q(select.format(after) + f" LIMIT {PAGE}"), key(rows[-1]))
        rows = cur.fetchall()


def _repack(text: str) -> bytes:
    return pack(json.loads(text))
