"""The harness side of a measurement driver: a child process spoken to in JSON lines.

Example::

    d = Driver([salt_python, "-m", "bench.drivers.salt_driver", conf], log_path)
    d.call("ready", timeout=60.0)
    d.call("call", tgt="*", fun="test.ping", args=[], expect=True, repeat=20, budget=300)
    d.close()
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.procs import stop_trees

REPO = Path(__file__).resolve().parent.parent


class DriverError(RuntimeError):
    """A driver operation failed or did not answer in time; the message says which and why."""


class Driver:
    def __init__(self, argv: Sequence[str], log_path: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                         text=True, env=env, cwd=REPO, start_new_session=True)
        self.name = Path(argv[2] if len(argv) > 2 else argv[0]).name

    def call(self, op: str, budget: float = 120.0, **params: Any) -> Any:
        """Run ``op`` in the driver; wait at most ``budget`` seconds for the answer."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps({"op": op, **params}) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise DriverError(f"{self.name}: driver exited (code {self.proc.poll()})") from None
        deadline = time.monotonic() + budget
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DriverError(f"{self.name}: {op} did not answer within {budget:g}s")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                break
        line = self.proc.stdout.readline()
        if not line:
            raise DriverError(f"{self.name}: driver exited during {op} (code {self.proc.wait(5)})")
        reply = json.loads(line)
        if not reply["ok"]:
            raise DriverError(f"{self.name}: {op}: {reply['error']}")
        return reply["result"]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            stop_trees([self.proc], grace=2.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
