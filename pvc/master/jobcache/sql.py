"""The SQL of the job cache, shared by SQLite and PostgreSQL.

Both engines speak the same statements (``ON CONFLICT`` upserts need SQLite >= 3.24); a
backend subclass only says how to connect, how to serialise schema creation between
processes, and when a connection is broken. Returns are written in batches, one transaction
per master loop turn, which is what lets the master ack a return only after it is stored
without paying a commit per return. Every write is idempotent (a job or return written twice
is stored once), so a batch whose commit outcome is unknown can simply be written again.

Example::

    cache = SqliteJobCache("/var/lib/pvc/cache/master/jobs.sqlite")
    cache.write([record], [(record.jid, "web1", {"ok": True, "data": True}, time.time())])  # [True]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from pvc.errors import JobCacheError
from pvc.master.jobcache.jsontext import dumps
from pvc.master.jobcache.records import (
    JobRecord,
    JobSummary,
    JobView,
    ReturnItem,
    StoredReturn,
)

T = TypeVar("T")

SCHEMA_VERSION = 1
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS pvc_schema (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS jobs (
        jid TEXT PRIMARY KEY, fun TEXT NOT NULL, args TEXT NOT NULL, kwargs TEXT NOT NULL,
        tgt TEXT NOT NULL, tgt_type TEXT NOT NULL, minions TEXT NOT NULL,
        started DOUBLE PRECISION NOT NULL, timeout DOUBLE PRECISION NOT NULL, usr TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS jobs_started ON jobs (started)",
    """CREATE TABLE IF NOT EXISTS returns (
        jid TEXT NOT NULL, minion TEXT NOT NULL, ret TEXT NOT NULL, ok INTEGER NOT NULL,
        received DOUBLE PRECISION NOT NULL, PRIMARY KEY (jid, minion))""",
    """CREATE TABLE IF NOT EXISTS missing (
        jid TEXT NOT NULL, minion TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (jid, minion))""",
)
INSERT_JOB = ("INSERT INTO jobs (jid, fun, args, kwargs, tgt, tgt_type, minions, started, timeout, usr) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
INSERT_RETURN = ("INSERT INTO returns (jid, minion, ret, ok, received) VALUES (?, ?, ?, ?, ?) "
                 "ON CONFLICT DO NOTHING")
UPSERT_MISSING = ("INSERT INTO missing (jid, minion, reason) VALUES (?, ?, ?) "
                  "ON CONFLICT (jid, minion) DO UPDATE SET reason = excluded.reason")
JOB_COLUMNS = "jid, fun, args, kwargs, tgt, tgt_type, minions, started, timeout, usr"
LIST_JOBS = (
    "SELECT j.jid, j.fun, j.tgt, j.tgt_type, j.started, j.minions, COUNT(r.minion), COALESCE(SUM(1 - r.ok), 0) "
    "FROM jobs j LEFT JOIN returns r ON r.jid = j.jid {where} "
    "GROUP BY j.jid, j.fun, j.tgt, j.tgt_type, j.started, j.minions ORDER BY j.started DESC, j.jid DESC LIMIT ?")


class SqlJobCache:
    """The job cache over one DB-API connection; subclasses fill in the engine specifics."""

    dialect = ""
    param = "?"
    errors: tuple[type[Exception], ...] = ()

    def __init__(self) -> None:
        self.conn: Any = self._connect()
        try:
            self._run(self._create)
        except JobCacheError:
            self.close()
            raise

    # -- engine specifics -------------------------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _lock_schema(self, cur: Any) -> None:
        """Serialise schema creation with other processes opening the same cache."""

    def _broken(self) -> bool:
        """True when the connection is dead and a new one must be made."""
        return False

    # -- plumbing ---------------------------------------------------------------------------
    def _q(self, sql: str) -> str:
        return sql if self.param == "?" else sql.replace("?", self.param)

    def _run(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(cursor)`` in one transaction. A connection found dead (a PostgreSQL
        restart) is replaced and the transaction tried once more: every write is idempotent."""
        try:
            return self._transaction(fn)
        except self.errors as exc:
            if not self._broken():
                raise JobCacheError(f"job cache ({self.dialect}): {str(exc).strip()}") from None
        self.conn = self._connect()
        try:
            return self._transaction(fn)
        except self.errors as exc:
            raise JobCacheError(f"job cache ({self.dialect}): {str(exc).strip()}") from None

    def _transaction(self, fn: Callable[[Any], T]) -> T:
        try:
            cur = self.conn.cursor()
            try:
                out = fn(cur)
            finally:
                cur.close()
            self.conn.commit()
            return out
        except BaseException:
            if not self._broken():
                self.conn.rollback()
            raise

    def _create(self, cur: Any) -> None:
        self._lock_schema(cur)
        for stmt in SCHEMA:
            cur.execute(stmt)
        cur.execute("SELECT version FROM pvc_schema")
        row = cur.fetchone()
        if row is None:
            cur.execute(self._q("INSERT INTO pvc_schema (version) VALUES (?)"), (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise JobCacheError(f"job cache ({self.dialect}) has schema version {row[0]}; this pvc reads "
                                f"version {SCHEMA_VERSION}: use a matching pvc or a new job_cache location")

    # -- the JobCache protocol --------------------------------------------------------------
    def new_job(self, job: JobRecord) -> None:
        self.write([job], [])

    def add_returns(self, items: Sequence[ReturnItem]) -> list[bool]:
        return self.write([], items)

    def write(self, jobs: Sequence[JobRecord], returns: Sequence[ReturnItem]) -> list[bool]:
        """New jobs, then returns, in ONE transaction (the master calls this once per loop
        turn). Per return: True if stored now, False if that minion had already returned for
        that job (a resend)."""
        insert_job = self._q(INSERT_JOB)
        rows = [(jid, mid, dumps(ret), int(bool(ret.get("ok"))), received) for jid, mid, ret, received in returns]

        def write(cur: Any) -> list[bool]:
            for job in jobs:
                cur.execute(insert_job, (job.jid, job.fun, dumps(job.args), dumps(job.kwargs), job.tgt,
                                         job.tgt_type, dumps(job.minions), job.started, job.timeout, job.user))
            return self._insert_returns(cur, rows) if rows else []

        return self._run(write)

    def _insert_returns(self, cur: Any, rows: Sequence[tuple[str, str, str, int, float]]) -> list[bool]:
        """Insert ``(jid, minion, ret, ok, received)`` rows; per row, True if it was new."""
        sql = self._q(INSERT_RETURN)
        stored = []
        for row in rows:
            cur.execute(sql, row)
            stored.append(cur.rowcount == 1)
        return stored

    def mark_missing(self, jid: str, missing: Mapping[str, str]) -> None:
        sql = self._q(UPSERT_MISSING)

        def mark(cur: Any) -> None:
            for mid, reason in missing.items():
                cur.execute(sql, (jid, mid, reason))

        self._run(mark)

    def get_job(self, jid: str) -> JobView | None:
        def get(cur: Any) -> JobView | None:
            cur.execute(self._q(f"SELECT {JOB_COLUMNS} FROM jobs WHERE jid = ?"), (jid,))
            row = cur.fetchone()
            if row is None:
                return None
            record = JobRecord(row[0], row[1], json.loads(row[2]), json.loads(row[3]), row[4], row[5],
                               json.loads(row[6]), row[7], row[8], row[9])
            cur.execute(self._q("SELECT minion, ret, received FROM returns WHERE jid = ?"), (jid,))
            returns = {m: StoredReturn(m, json.loads(r), t) for m, r, t in cur.fetchall()}
            cur.execute(self._q("SELECT minion, reason FROM missing WHERE jid = ?"), (jid,))
            missing = {m: reason for m, reason in cur.fetchall() if m not in returns}
            return JobView(record, returns, missing)

        return self._run(get)

    def list_jobs(self, limit: int = 50, fun: str | None = None) -> list[JobSummary]:
        """Newest first; ``fun`` keeps only the jobs of that function."""
        where, params = ("WHERE j.fun = ?", [fun]) if fun else ("", [])
        sql = self._q(LIST_JOBS.format(where=where))

        def list_(cur: Any) -> list[JobSummary]:
            cur.execute(sql, (*params, max(0, limit)))
            return [JobSummary(r[0], r[1], r[2], r[3], r[4], len(json.loads(r[5])), int(r[6]), int(r[7]))
                    for r in cur.fetchall()]

        return self._run(list_)

    def prune(self, older_than: float) -> int:
        """Forget the jobs started before ``older_than`` (unix time); returns how many."""
        def prune(cur: Any) -> int:
            old = "SELECT jid FROM jobs WHERE started < ?"
            cur.execute(self._q(f"DELETE FROM returns WHERE jid IN ({old})"), (older_than,))
            cur.execute(self._q(f"DELETE FROM missing WHERE jid IN ({old})"), (older_than,))
            cur.execute(self._q("DELETE FROM jobs WHERE started < ?"), (older_than,))
            return int(cur.rowcount)

        return self._run(prune)

    def close(self) -> None:
        if not self._broken():
            self.conn.close()
