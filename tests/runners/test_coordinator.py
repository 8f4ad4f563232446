"""The coordinator process's edges: how it stops on a signal, and how it says it cannot start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from pvc.runners.coordinator import StopRequest


def test_a_stop_asked_by_signal_handlers_while_the_main_thread_waits_ends_the_wait() -> None:
    """Signals landing while the main thread waits (as PR_SET_PDEATHSIG's SIGTERM does when the
    master dies) end the wait; the handler takes no lock, so a burst of them cannot deadlock it."""
    request = StopRequest()
    previous = signal.signal(signal.SIGUSR1, lambda *_: request.request())
    pid = os.getpid()

    def burst() -> None:
        time.sleep(0.2)
        for _ in range(5):
            os.kill(pid, signal.SIGUSR1)

    sender = threading.Thread(target=burst)
    try:
        sender.start()
        start = time.monotonic()
        assert request.wait(10.0)
        assert time.monotonic() - start < 5.0
    finally:
        sender.join()
        signal.signal(signal.SIGUSR1, previous)
    assert request.wait(0.0), "a stop, once asked for, stays asked for"


def test_no_stop_asked_waits_the_whole_timeout() -> None:
    start = time.monotonic()
    assert not StopRequest().wait(0.3)
    assert time.monotonic() - start >= 0.25


def test_an_uninitialised_cluster_is_one_line_not_a_traceback(zk_hosts: str, zk_root: str, tmp_path: Path) -> None:
    (tmp_path / "master").write_text(yaml.safe_dump({"root_dir": "root"}))
    done = subprocess.run([sys.executable, "-m", "pvc.runners.coordinator", "-c", str(tmp_path), "--zk", zk_hosts,
                           "--root", zk_root], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"Error: no cluster at {zk_root}" in done.stderr and "pvc cluster init" in done.stderr
