"""The job cache: every job, every return, and who did not return (and why).

SQLite in WAL mode by default (embedded, zero set-up); PostgreSQL through psycopg2 when
``job_cache: postgresql://...``. Both speak the same SQL (:mod:`.sql`); args, kwargs and
returns are stored as msgpack bytes (:mod:`.payload`: stored size = wire size), tables are
versioned (:mod:`.schema`: a version 1 cache is migrated when first opened).

Example::

    cache = open_job_cache("", "/var/lib/pvc/cache/master/jobs.sqlite")
    cache.new_job(JobRecord("2026...", "test.ping", [], {}, "*", "glob", ["m1"], time.time(), 5.0))
    cache.add_returns([("2026...", "m1", {"ok": True, "data": True}, time.time())])   # [True]
    cache.open_jobs(since=time.time() - 3600, limit=1000)   # [JobTargets(...)]: still waiting
"""

from __future__ import annotations

import re

from pvc.errors import JobCacheError
from pvc.master.jobcache.records import (
    JobCache,
    JobRecord,
    JobSummary,
    JobTargets,
    JobView,
    ReturnItem,
    StoredReturn,
)
from pvc.master.jobcache.sql import SqlJobCache

__all__ = ["JobCache", "JobRecord", "JobSummary", "JobTargets", "JobView", "ReturnItem", "SqlJobCache",
           "StoredReturn", "open_job_cache", "redact"]

# greedy up to the last '@': an unencoded '@' or '/' in a password is still hidden
_SECRETS = ((re.compile(r"(//[^:/@]*:).*@"), r"\1***@"), (re.compile(r"(password=)[^&\s]*", re.IGNORECASE), r"\1***"))


def open_job_cache(url: str, default_path: str) -> SqlJobCache:
    """``""`` -> SQLite at ``default_path``; ``sqlite:///abs/path`` -> SQLite there;
    ``postgresql://...`` (or ``postgres://``) -> PostgreSQL. Raises :class:`JobCacheError`."""
    if url.startswith(("postgresql://", "postgres://")):
        from pvc.master.jobcache.postgres import PostgresJobCache

        return PostgresJobCache(url)
    from pvc.master.jobcache.sqlite import SqliteJobCache

    if not url:
        return SqliteJobCache(default_path)
    if url.startswith("sqlite:///"):
        return SqliteJobCache(url[len("sqlite://"):])
    raise JobCacheError(f"job cache: unsupported URL {redact(url)!r} (use sqlite:///abs/path or postgresql://...)")


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs.

    >>> redact("postgresql://pvc:s3cret@db1/pvc?sslmode=require")
    'postgresql://pvc:***@db1/pvc?sslmode=require'
    """
    for secret, replacement in _SECRETS:
        url = secret.sub(replacement, url)
    return url
