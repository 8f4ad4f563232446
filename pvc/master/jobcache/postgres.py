"""The job cache on PostgreSQL (``job_cache: postgresql://user:password@host/db``).

For sites that keep jobs for long or let several masters share one history. A connection
lost to a server restart is replaced on the next call; messages never show the password.
A write returns only after the server answered COMMIT, so it survives a SIGKILL of the master;
surviving a crash of the server is the server's ``fsync``/``synchronous_commit`` policy.

Example::

    cache = PostgresJobCache("postgresql://pvc:secret@db1/pvc")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import psycopg2  # type: ignore[import-untyped]  # types-psycopg2 is not a dependency
from psycopg2.extras import execute_values  # type: ignore[import-untyped]

from pvc.errors import JobCacheError
from pvc.master.jobcache import redact
from pvc.master.jobcache.sql import SqlJobCache

CONNECT_TIMEOUT = 5
# any constant shared by every pvc master: schema creation waits for the other masters
SCHEMA_LOCK = 0x707663  # "pvc"
INSERT_RETURNS = ("INSERT INTO returns (jid, minion, ret, ok, received) VALUES %s ON CONFLICT DO NOTHING "
                  "RETURNING jid, minion")


class PostgresJobCache(SqlJobCache):
    dialect = "postgresql"
    param = "%s"
    blob = "BYTEA"
    wanted_jids = "SELECT unnest(%s::text[])"
    minions_of = "ARRAY(SELECT t.minion FROM {table} t WHERE t.jid = j.jid)"
    errors = (psycopg2.Error,)

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__()

    def _connect(self) -> Any:
        try:
            conn = psycopg2.connect(self.url, connect_timeout=CONNECT_TIMEOUT)
        except psycopg2.Error as exc:
            reason = str(exc).strip()
            password = urlsplit(self.url).password
            if password:  # libpq may quote the part of the URL it could not parse
                reason = reason.replace(password, "***")
            raise JobCacheError(f"job cache: cannot connect to {redact(self.url)}: {reason}") from None
        try:
            # the correlated counts of open_jobs look costly to the planner, whose JIT then
            # spends ~200 ms compiling a query that runs in 30: JIT never pays off here
            with conn.cursor() as cur:
                cur.execute("SET jit = off")
            conn.commit()
        except psycopg2.Error:  # a server without JIT (PostgreSQL < 11)
            conn.rollback()
        return conn

    def _lock_schema(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))

    def _insert_returns(self, cur: Any, rows: Sequence[tuple[str, str, bytes, int, float]]) -> list[bool]:
        """One round trip for the whole batch (a row at a time would pay the network latency
        per return); RETURNING names the rows that were new."""
        new = set(execute_values(cur, INSERT_RETURNS, rows, page_size=len(rows), fetch=True))
        stored = []
        for jid, mid, *_ in rows:
            stored.append((jid, mid) in new)
            new.discard((jid, mid))  # the same return twice in one batch: only the first is new
        return stored

    def _broken(self) -> bool:
        return bool(self.conn.closed)

    def _jid_list(self, jids: Sequence[str]) -> list[str]:
        return list(jids)

    def _minion_list(self, aggregated: list[str]) -> list[str]:
        return aggregated  # psycopg2 gives a text[] as a list
