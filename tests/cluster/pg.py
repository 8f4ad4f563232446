"""A throwaway PostgreSQL server for tests: initdb into a temp dir, fsync off, loopback only.

Runs as the ``postgres`` user (initdb refuses root), started and stopped by its PID, nothing
under /etc or /var/lib/postgresql. About one second from nothing to accepting connections.

Example::

    with PostgresServer() as pg:
        psycopg2.connect(pg.dsn)
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.cluster.ports import free_port


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run scripts/setup.sh (it installs postgresql-15)")
    return Path(found[-1])


class PostgresServer:
    def __init__(self) -> None:
        # its own dir under /tmp: pytest's tmp dirs are 0700 root, which the postgres user
        # cannot enter
        self.root = Path(tempfile.mkdtemp(prefix="pvc-pg-"))
        self.port = free_port()
        self.pid: int | None = None

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def start(self) -> PostgresServer:
        pg = _pg_bin()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        data = self.root / "data"
        subprocess.run([*self._as_postgres(), str(pg / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], check=True, capture_output=True)
        subprocess.run([*self._as_postgres(), str(pg / "pg_ctl"), "-D", str(data), "-l", str(self.root / "server.log"),
                        "-w", "-t", "60", "-o",
                        f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                        "-c synchronous_commit=off -c full_page_writes=off", "start"],
                       check=True, capture_output=True)
        self.pid = int((data / "postmaster.pid").read_text().split()[0])
        return self

    def stop(self) -> None:
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGINT)  # "fast" shutdown
        except ProcessLookupError:
            self.pid = None
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(self.pid, signal.SIGKILL)
        self.pid = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
