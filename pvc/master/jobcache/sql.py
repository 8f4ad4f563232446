"""The SQL of the job cache, shared by SQLite and PostgreSQL.

Both engines speak the same statements (``ON CONFLICT`` upserts need SQLite >= 3.24); a
backend subclass only says how to connect, how to serialise schema creation between
processes, how to pass a list of jids, and when a connection is broken. Returns are written
in batches, one transaction per master loop turn, which is what lets the master ack a return
only after it is stored without paying a commit per return: :meth:`SqlJobCache.write` returns
only after the commit, so an acked return survives a SIGKILL of the master. Every write is
idempotent (a job or return written twice is stored once), so a batch whose commit outcome is
unknown can simply be written again. A restarted master asks :meth:`SqlJobCache.open_jobs`
which jobs still wait for minions and :meth:`SqlJobCache.lookup_jobs` who a job expects.

Example::

    cache = SqliteJobCache("/var/lib/pvc/cache/master/jobs.sqlite")
    cache.write([record], [(record.jid, "web1", {"ok": True, "data": True}, time.time())])  # [True]
    cache.lookup_jobs([record.jid])[record.jid].returned                                     # {'web1'}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pvc.errors import JobCacheError
from pvc.master.jobcache.payload import pack, unpack, unpack_ids
from pvc.master.jobcache.records import (
    JobRecord,
    JobSummary,
    JobTargets,
    JobView,
    ReturnItem,
    StoredReturn,
)
from pvc.master.jobcache.schema import create_or_migrate

T = TypeVar("T")

INSERT_JOB = ("INSERT INTO jobs (jid, fun, args, kwargs, tgt, tgt_type, minions, nminions, started, timeout, usr) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
INSERT_RETURN = ("INSERT INTO returns (jid, minion, ret, ok, received) VALUES (?, ?, ?, ?, ?) "
                 "ON CONFLICT DO NOTHING")
UPSERT_MISSING = ("INSERT INTO missing (jid, minion, reason) VALUES (?, ?, ?) "
                  "ON CONFLICT (jid, minion) DO UPDATE SET reason = excluded.reason")
JOB_COLUMNS = "jid, fun, args, kwargs, tgt, tgt_type, minions, started, timeout, usr"
LIST_JOBS = (
    "SELECT j.jid, j.fun, j.tgt, j.tgt_type, j.started, j.nminions, COUNT(r.minion), COALESCE(SUM(1 - r.ok), 0) "
    "FROM jobs j LEFT JOIN returns r ON r.jid = j.jid {where} "
    "GROUP BY j.jid, j.fun, j.tgt, j.tgt_type, j.started, j.nminions ORDER BY j.started DESC, j.jid DESC LIMIT ?")
# one statement (one round trip) and one row per job for any number of jobs: {wanted} selects
# the jids, {returned} and {missing} aggregate the minions of those tables (engine specific)
TARGETS = ("SELECT j.jid, j.minions, j.started, j.timeout, {returned}, {missing} FROM jobs j "
           "WHERE j.jid IN ({wanted})")
# jobs with fewer returns + (missing marks of minions that did not return) than distinct
# expected minions; counts, not sets, so no minion list is decoded for a closed job
OPEN_JOBS = (
    "SELECT j.jid FROM jobs j WHERE j.started > ? AND j.nminions > "
    "(SELECT COUNT(*) FROM returns r WHERE r.jid = j.jid) + (SELECT COUNT(*) FROM missing m WHERE m.jid = j.jid "
    "AND NOT EXISTS (SELECT 1 FROM returns r WHERE r.jid = m.jid AND r.minion = m.minion)) "
    "ORDER BY j.started, j.jid LIMIT ?")


class SqlJobCache:
    """The job cache over one DB-API connection; subclasses fill in the engine specifics."""

    dialect = ""
    param = "?"
    blob = "BLOB"  # the column type of msgpack bytes
    wanted_jids = ""  # a SELECT of one column over the jids passed as one parameter
    minions_of = ""  # an expression aggregating t.minion of {table} t where t.jid = j.jid
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

    def _jid_list(self, jids: Sequence[str]) -> Any:
        """``jids`` as the one parameter of :attr:`wanted_jids`."""
        raise NotImplementedError

    def _minion_list(self, aggregated: Any) -> Iterable[str]:
        """The minion ids in a value of :attr:`minions_of`."""
        raise NotImplementedError

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
        create_or_migrate(cur, self.dialect, self.blob, self.param)

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
        rows = [(jid, mid, pack(ret), int(bool(ret.get("ok"))), received) for jid, mid, ret, received in returns]

        def write(cur: Any) -> list[bool]:
            for job in jobs:
                cur.execute(insert_job, (job.jid, job.fun, pack(job.args), pack(job.kwargs), job.tgt, job.tgt_type,
                                         pack(job.minions), len(set(job.minions)), job.started, job.timeout,
                                         job.user))
            return self._insert_returns(cur, rows) if rows else []

        return self._run(write)

    def _insert_returns(self, cur: Any, rows: Sequence[tuple[str, str, bytes, int, float]]) -> list[bool]:
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

    def lookup_jobs(self, jids: Sequence[str]) -> dict[str, JobTargets]:
        """Who each of ``jids`` expects, who returned and who is marked missing, in one query;
        jids not in the cache are left out. A restarted master uses it to tell a resent
        return from a new one without a query per return."""
        if not jids:
            return {}
        sql = self._targets_sql(self.wanted_jids)
        param = self._jid_list(jids)
        return self._run(lambda cur: self._targets(cur, sql, (param,)))

    def open_jobs(self, since: float, limit: int) -> list[JobTargets]:
        """Up to ``limit`` jobs started after ``since`` (unix time) that still expect a return:
        a minion neither returned nor was marked missing. Oldest first, in one query, so a
        restarted master can re-arm their deadlines (``created + timeout``).

        Counting assumes returns and marks only for minions the job expected (the master
        refuses the others); a job with stray returns may be left out."""
        sql = self._targets_sql(OPEN_JOBS)

        def open_(cur: Any) -> list[JobTargets]:
            found = self._targets(cur, sql, (since, max(0, limit)))
            return sorted((t for t in found.values() if t.outstanding), key=lambda t: (t.created, t.jid))

        return self._run(open_)

    def _targets_sql(self, wanted: str) -> str:
        return self._q(TARGETS.format(wanted=wanted, returned=self.minions_of.format(table="returns"),
                                      missing=self.minions_of.format(table="missing")))

    def _targets(self, cur: Any, sql: str, params: tuple[Any, ...]) -> dict[str, JobTargets]:
        cur.execute(sql, params)
        found = {}
        for jid, minions, started, timeout, returned_agg, missing_agg in cur.fetchall():
            returned = frozenset(self._minion_list(returned_agg))
            missing = frozenset(self._minion_list(missing_agg)) - returned  # returned late: not missing
            found[jid] = JobTargets(jid, unpack_ids(minions), returned, started, timeout, missing)
        return found

    def get_job(self, jid: str) -> JobView | None:
        def get(cur: Any) -> JobView | None:
            cur.execute(self._q(f"SELECT {JOB_COLUMNS} FROM jobs WHERE jid = ?"), (jid,))
            row = cur.fetchone()
            if row is None:
                return None
            record = JobRecord(row[0], row[1], unpack(row[2]), unpack(row[3]), row[4], row[5], unpack(row[6]),
                               row[7], row[8], row[9])
            cur.execute(self._q("SELECT minion, ret, received FROM returns WHERE jid = ?"), (jid,))
            returns = {m: StoredReturn(m, unpack(r), t) for m, r, t in cur.fetchall()}
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
            return [JobSummary(r[0], r[1], r[2], r[3], r[4], int(r[5]), int(r[6]), int(r[7]))
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
