"""pvc's side of the measurements: ``python -m bench.drivers.pvc_driver MASTER_CONFIG_DIR``.

Uses the public Python API, :class:`pvc.client.Client`, created once and reused; where many
jobs are in flight (start-up, pipelined jobs) it publishes with ``run_async`` and reads the
streamed returns, as :meth:`Client.collect` does.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bench.drivers.serve import pipelined, sequential, serve, timed_calls, wait_answering

POLL_S = 0.05
MAX_LIST_TARGET = 200  # ids per list target (a target expression is capped at 8 KiB)


class PvcDriver:
    def __init__(self, config_dir: str) -> None:
        self.config_dir = config_dir
        self.client: Any = None

    def version(self) -> dict[str, str]:
        import zmq

        import pvc

        return {"version": pvc.__version__, "python": sys.version.split()[0], "pyzmq": zmq.__version__}

    def ready(self, timeout: float) -> float:
        """Wait until the master's client socket answers; seconds waited."""
        from pvc.client import Client
        from pvc.errors import MasterUnreachable

        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            try:
                self.client = self.client or Client(self.config_dir)
                self.client.expected("*")
                return time.perf_counter() - t0
            except MasterUnreachable:
                time.sleep(0.05)
        raise TimeoutError(f"pvc master did not answer within {timeout:g}s")

    def answering(self, ids: list[str], timeout: float, every: float) -> dict[str, Any]:
        from pvc.errors import PvcError

        def publish(silent: list[str]) -> None:
            for i in range(0, len(silent), MAX_LIST_TARGET):
                try:
                    self.client.run_async(silent[i:i + MAX_LIST_TARGET], "test.ping")
                except PvcError:
                    pass  # probe again later

        def poll() -> list[str]:
            """Every return waiting now (the first wait up to POLL_S): one message per turn of
            the probe's loop left thousands of returns queued behind its next publications."""
            from pvc.wire.local import RetReply

            out: list[str] = []
            msg = self.client.next_message(POLL_S)
            for _ in range(100_000):
                if msg is None:
                    break
                if isinstance(msg, RetReply) and msg.ret.ok:
                    out.append(msg.id)
                msg = self.client.next_message(0)
            return out

        return wait_answering(ids, timeout, every, publish, poll)

    def call(self, tgt: str, fun: str, args: list[Any], expect: Any, repeat: int,
             timeout: float | None = None) -> dict[str, Any]:
        return timed_calls(lambda: self.client.cmd(tgt, fun, args, timeout=timeout), expect, repeat)

    def call_bus(self, tgt: str, fun: str, args: list[Any], expect: Any, repeat: int,
                 timeout: float = 60.0) -> dict[str, Any]:
        """Like :meth:`call`, through ``run_async`` and ``collect`` (the same stream here)."""
        def once() -> dict[str, Any]:
            jid = self.client.run_async(tgt, fun, args, timeout=timeout)
            return self.client.collect([jid], timeout + 2.0)[jid].salt_shape()

        return timed_calls(once, expect, repeat)

    def jobs_sequential(self, mid: str, seconds: float) -> dict[str, Any]:
        return sequential(lambda: self.client.cmd(mid, "test.ping").get(mid) is True, seconds)

    def jobs_pipelined(self, mid: str, seconds: float, timeout: float) -> dict[str, Any]:
        def batch(k: int) -> int:
            # all k publish requests go out before their acks are read (pvc's pipelined API);
            # Salt's LocalClient has no such call, so its driver publishes one by one
            jids = self.client.run_async_many(mid, "test.ping", k)
            results = self.client.collect(jids, timeout)
            return sum(1 for r in results.values() if mid in r.returns and r.returns[mid].ok)

        return pipelined(batch, seconds)


if __name__ == "__main__":
    serve(PvcDriver(sys.argv[1]))
