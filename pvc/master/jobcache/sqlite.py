"""The embedded default: one SQLite file in WAL mode, private to the master's user.

WAL lets ``pvc job show`` read while the master writes; ``synchronous=NORMAL`` keeps a commit
cheap (a power cut may lose the last turns, never corrupt the file). The busy timeout is short
because the master's loop must not stall on a locked file: a failed batch is simply not acked
and the minions resend.

Example::

    cache = SqliteJobCache("/var/lib/pvc/cache/master/jobs.sqlite")
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from pvc.errors import JobCacheError
from pvc.master.jobcache.sql import SqlJobCache

BUSY_TIMEOUT = 0.5


class SqliteJobCache(SqlJobCache):
    dialect = "sqlite"
    param = "?"
    errors = (sqlite3.Error,)

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__()

    def _connect(self) -> sqlite3.Connection:
        try:
            os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))  # returns may hold secrets
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT)
        except (OSError, sqlite3.Error) as exc:
            raise JobCacheError(f"job cache: cannot open {self.path}: {exc}") from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            conn.close()
            raise JobCacheError(f"job cache: cannot open {self.path}: {exc}") from None
        return conn

    def _lock_schema(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")
