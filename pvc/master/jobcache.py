"""The job cache: every job, every return, and who did not return (and why).

SQLite in WAL mode by default (embedded, zero set-up); PostgreSQL through psycopg2 when
``job_cache: postgresql://...``. Both speak the same SQL through one class; only the
connection and the placeholder style differ. Returns are written in batches, one transaction
per master loop turn, which is what lets the master ack a return only after it is stored
without paying a commit per return.

Example::

    cache = open_job_cache("", "/var/lib/pvc/cache/master/jobs.sqlite")
    cache.new_job(JobRecord("2026...", "test.ping", [], {}, "*", "glob", ["m1"], time.time(), 5.0))
    cache.add_returns([("2026...", "m1", {"ok": True, "data": True}, time.time())])   # [True]
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pvc.errors import JobCacheError

SCHEMA_VERSION = 1
SCHEMA = [
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
]


@dataclass(frozen=True)
class JobRecord:
    jid: str
    fun: str
    args: list[Any]
    kwargs: dict[str, Any]
    tgt: str
    tgt_type: str
    minions: list[str]
    started: float
    timeout: float
    user: str = ""


@dataclass(frozen=True)
class StoredReturn:
    minion_id: str
    ret: dict[str, Any]
    received: float


@dataclass(frozen=True)
class JobView:
    record: JobRecord
    returns: dict[str, StoredReturn]
    missing: dict[str, str]


@dataclass(frozen=True)
class JobSummary:
    jid: str
    fun: str
    tgt: str
    tgt_type: str
    started: float
    minions: int
    returned: int
    failed: int


class JobCache(Protocol):
    def new_job(self, job: JobRecord) -> None: ...
    def write(self, jobs: Sequence[JobRecord], returns: Sequence[tuple[str, str, dict[str, Any], float]]) -> list[bool]: ...
    def add_returns(self, items: Sequence[tuple[str, str, dict[str, Any], float]]) -> list[bool]: ...
    def mark_missing(self, jid: str, missing: Mapping[str, str]) -> None: ...
    def get_job(self, jid: str) -> JobView | None: ...
    def list_jobs(self, limit: int = 50, fun: str | None = None) -> list[JobSummary]: ...
    def prune(self, older_than: float) -> int: ...
    def close(self) -> None: ...


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=_bytes)


def _bytes(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON-able")


class SqlJobCache:
    """The SQL shared by both backends; ``param`` is the driver's placeholder."""

    def __init__(self, conn: Any, param: str, dialect: str) -> None:
        self.conn = conn
        self.param = param
        self.dialect = dialect
        self._create()

    def _q(self, sql: str) -> str:
        return sql.replace("?", self.param)

    def _run(self, fn: Any) -> Any:
        try:
            cur = self.conn.cursor()
            try:
                out = fn(cur)
            finally:
                cur.close()
            self.conn.commit()
            return out
        except (sqlite3.Error, *_pg_errors()) as exc:
            try:
                self.conn.rollback()
            except Exception:  # noqa: BLE001 - the connection may be gone; the original error matters
                pass
            raise JobCacheError(f"job cache ({self.dialect}): {exc}".strip()) from None

    def _create(self) -> None:
        def create(cur: Any) -> None:
            for stmt in SCHEMA:
                cur.execute(stmt)
            cur.execute("SELECT version FROM pvc_schema")
            row = cur.fetchone()
            if row is None:
                cur.execute(self._q("INSERT INTO pvc_schema (version) VALUES (?)"), (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise JobCacheError(f"job cache schema version {row[0]} is not {SCHEMA_VERSION}")

        self._run(create)

    def new_job(self, job: JobRecord) -> None:
        self.write([job], [])

    def add_returns(self, items: Sequence[tuple[str, str, dict[str, Any], float]]) -> list[bool]:
        return self.write([], items)

    def write(self, jobs: Sequence[JobRecord], returns: Sequence[tuple[str, str, dict[str, Any], float]]) -> list[bool]:
        """New jobs, then returns, in ONE transaction (the master calls this once per loop
        turn). Returns, per return, True if stored now, False if that minion had already
        returned for that job (a resend)."""
        insert_ret = self._q(
            "INSERT OR IGNORE INTO returns (jid, minion, ret, ok, received) VALUES (?, ?, ?, ?, ?)"
            if self.dialect == "sqlite" else
            "INSERT INTO returns (jid, minion, ret, ok, received) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
        insert_job = self._q("INSERT INTO jobs (jid, fun, args, kwargs, tgt, tgt_type, minions, started, timeout, usr) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")

        def write(cur: Any) -> list[bool]:
            for job in jobs:
                cur.execute(insert_job, (job.jid, job.fun, _json(job.args), _json(job.kwargs), job.tgt, job.tgt_type,
                                         _json(job.minions), job.started, job.timeout, job.user))
            stored = []
            for jid, mid, ret, received in returns:
                cur.execute(insert_ret, (jid, mid, _json(ret), int(bool(ret.get("ok"))), received))
                stored.append(cur.rowcount == 1)
            return stored

        return self._run(write)

    def mark_missing(self, jid: str, missing: Mapping[str, str]) -> None:
        sql = ("INSERT OR REPLACE INTO missing (jid, minion, reason) VALUES (?, ?, ?)" if self.dialect == "sqlite" else
               "INSERT INTO missing (jid, minion, reason) VALUES (?, ?, ?) "
               "ON CONFLICT (jid, minion) DO UPDATE SET reason = EXCLUDED.reason")
        self._run(lambda cur: [cur.execute(self._q(sql), (jid, m, r)) for m, r in missing.items()])

    def get_job(self, jid: str) -> JobView | None:
        def get(cur: Any) -> JobView | None:
            cur.execute(self._q("SELECT jid, fun, args, kwargs, tgt, tgt_type, minions, started, timeout, usr "
                                "FROM jobs WHERE jid = ?"), (jid,))
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
        where, params = ("WHERE j.fun = ?", [fun]) if fun else ("", [])

        def list_(cur: Any) -> list[JobSummary]:
            cur.execute(self._q(
                "SELECT j.jid, j.fun, j.tgt, j.tgt_type, j.started, j.minions, "
                "COUNT(r.minion), COALESCE(SUM(1 - r.ok), 0) FROM jobs j LEFT JOIN returns r ON r.jid = j.jid "
                f"{where} GROUP BY j.jid, j.fun, j.tgt, j.tgt_type, j.started, j.minions "
                "ORDER BY j.started DESC, j.jid DESC LIMIT ?"), (*params, limit))
            return [JobSummary(r[0], r[1], r[2], r[3], r[4], len(json.loads(r[5])), int(r[6]), int(r[7]))
                    for r in cur.fetchall()]

        return self._run(list_)

    def prune(self, older_than: float) -> int:
        def prune(cur: Any) -> int:
            old = "SELECT jid FROM jobs WHERE started < ?"
            cur.execute(self._q(f"DELETE FROM returns WHERE jid IN ({old})"), (older_than,))
            cur.execute(self._q(f"DELETE FROM missing WHERE jid IN ({old})"), (older_than,))
            cur.execute(self._q("DELETE FROM jobs WHERE started < ?"), (older_than,))
            return cur.rowcount

        return self._run(prune)

    def close(self) -> None:
        self.conn.close()


def _pg_errors() -> tuple[type[Exception], ...]:
    try:
        import psycopg2
    except ImportError:
        return ()
    return (psycopg2.Error,)


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def open_job_cache(url: str, default_path: str) -> SqlJobCache:
    """``""`` or ``sqlite:///abs/path`` -> SQLite; ``postgresql://...`` -> PostgreSQL."""
    if url.startswith(("postgresql://", "postgres://")):
        import psycopg2

        try:
            conn = psycopg2.connect(url, connect_timeout=5)
        except psycopg2.Error as exc:
            raise JobCacheError(f"job cache: cannot connect to {_redact(url)}: {str(exc).strip()}") from None
        return SqlJobCache(conn, "%s", "postgresql")
    if url and not url.startswith("sqlite:///"):
        raise JobCacheError(f"job cache: unsupported URL {_redact(url)!r} (use sqlite:///path or postgresql://...)")
    path = url[len("sqlite://"):] if url else default_path
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        # a short busy timeout: the master's loop must not stall for long on a locked file
        conn = sqlite3.connect(path, timeout=0.5)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error as exc:
        raise JobCacheError(f"job cache: cannot open {path}: {exc}") from None
    return SqlJobCache(conn, "?", "sqlite")
