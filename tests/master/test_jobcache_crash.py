"""Issue 14: a batch the job cache said it stored survives a SIGKILL of the writing process.

A child process writes batches (a job and its returns) in a loop and prints each batch's jid
only after ``write()`` returned, as the master acks only after it. The test kills it with
SIGKILL at a random moment mid-burst, several times, then reopens the cache and checks that
every printed batch is there in full.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pvc
from pvc.master.jobcache import open_job_cache
from tests.master import test_jobcache as shared

# the fixtures of test_jobcache.py (SQLite and a real PostgreSQL), shared by name
pg_database, url = shared.pg_database, shared.url

RETURNS = 20
CHILD = f"""
import sys, time
from pvc.master.jobcache import JobRecord, open_job_cache

cache = open_job_cache(sys.argv[1], "")
minions = [f"m{{i}}" for i in range({RETURNS})]
data = "x" * 20_000  # big enough that a batch spans many pages
for i in range(1_000_000):
    jid = f"{{sys.argv[2]}}{{i:06d}}"
    job = JobRecord(jid, "test.echo", [i], {{}}, "*", "glob", minions, time.time(), 60.0)
    cache.write([job], [(jid, m, {{"ok": True, "data": data}}, time.time()) for m in minions])
    print(jid, flush=True)
"""
ROOT = Path(pvc.__file__).resolve().parent.parent  # the pvc the tests import, for the child


def _write_until_killed(url: str, prefix: str, batches: int) -> list[str]:
    """Run the child until it printed ``batches`` jids (+ a random delay), SIGKILL it, and
    return every jid it printed."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, prefix], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    printed = []
    try:
        for line in child.stdout:
            printed.append(line)
            if len(printed) >= batches:
                break
        time.sleep(random.uniform(0, 0.01))  # a random point of a later write: before, in or after its commit
    finally:
        os.kill(child.pid, signal.SIGKILL)
        rest, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, err
    printed.extend(rest.splitlines(keepends=True))
    assert len(printed) >= batches, err
    return [line.rstrip("\n") for line in printed if line.endswith("\n")]  # only whole lines were printed


def test_every_acknowledged_batch_survives_sigkill(url):
    acked = []
    for round_ in range(3):
        acked += _write_until_killed(url, f"r{round_}-", batches=random.randint(20, 60))
    cache = open_job_cache(url, "")
    try:
        found = cache.lookup_jobs(acked)
        lost = [jid for jid in acked if jid not in found or len(found[jid].returned) != RETURNS]
        assert lost == [], f"{len(lost)} of {len(acked)} acknowledged batches lost or incomplete"
        last = cache.get_job(acked[-1])
        assert last is not None and last.returns["m7"].ret == {"ok": True, "data": "x" * 20_000}
    finally:
        cache.close()
    if url.startswith("sqlite://"):
        with sqlite3.connect(url[len("sqlite://"):]) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
