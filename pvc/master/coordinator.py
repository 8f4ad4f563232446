"""The master's cluster coordinator, run as a child process and kept running.

The coordinator (:mod:`pvc.runners.coordinator`) is this node's part in the cluster: primary
election, keepalives watched, fencing, flush, VM recovery, reactors. It runs as a child so the
master's own loop never touches ZooKeeper, and it ends itself when the master dies
(``--parent``). A child that dies while the master runs (a bug, the OOM killer, a stray
SIGKILL) is started again: after :data:`FIRST_WAIT`, doubling up to :data:`MAX_WAIT` while each
new one dies within :data:`STABLE` of its start, every death logged with how it ended. Without
this a master went on serving jobs while its node had quietly left the cluster's work.

Example::

    child = CoordinatorChild([sys.executable, "-m", "pvc.runners.coordinator", "-c", DIR, ...])
    child.start()
    ...
    child.stop()
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time

from pvc.process import describe_exit

log = logging.getLogger(__name__)

FIRST_WAIT = 1.0  # seconds before the first restart
MAX_WAIT = 30.0  # the longest wait between two restarts
STABLE = 60.0  # a child that ran this long resets the wait to FIRST_WAIT
STOP_GRACE = 5.0  # SIGTERM, then SIGKILL after this


class CoordinatorChild:
    def __init__(self, argv: list[str], first_wait: float = FIRST_WAIT, max_wait: float = MAX_WAIT,
                 stable: float = STABLE) -> None:
        self._argv = argv
        self._first_wait, self._max_wait, self._stable = first_wait, max_wait, stable
        self._lock = threading.Lock()  # orders a restart against stop()
        self._stopping = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._watcher: threading.Thread | None = None
        self.restarts = 0

    @property
    def pid(self) -> int:
        """The running child's PID (0 between a death and its restart)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else 0

    def start(self) -> CoordinatorChild:
        with self._lock:
            self._proc = subprocess.Popen(self._argv)
        self._watcher = threading.Thread(target=self._watch, name="coordinator-child", daemon=True)
        self._watcher.start()
        return self

    def stop(self, grace: float = STOP_GRACE) -> None:
        """End the child (SIGTERM, SIGKILL after ``grace``) and start no other."""
        with self._lock:
            self._stopping.set()
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._watcher is not None:
            self._watcher.join(grace)

    def _watch(self) -> None:
        wait = self._first_wait
        while True:
            proc = self._proc
            assert proc is not None
            started = time.monotonic()
            code = proc.wait()
            if self._stopping.is_set():
                return
            wait = self._first_wait if time.monotonic() - started >= self._stable else wait
            log.error("cluster coordinator (pid %d) died: %s; starting another in %g s",
                      proc.pid, describe_exit(code), wait)
            if self._stopping.wait(wait):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self._proc = subprocess.Popen(self._argv)
                self.restarts += 1
            log.info("cluster coordinator started again (pid %d)", self._proc.pid)
            wait = min(wait * 2, self._max_wait)
