"""Salt's side of the measurements, run under Salt's own venv: ``python -m bench.drivers.salt_driver MASTER_CONF``.

Uses the documented Python API, ``salt.client.LocalClient(mopts=salt.config.client_config(conf))``,
created once and reused. Where many jobs are in flight (start-up, pipelined jobs) and for the
"bus" round trips, returns are read from the master's event bus (``salt/job/<jid>/ret/<id>``):
``LocalClient.cmd`` polls with 10 ms sleeps per ~2 KiB read, so large returns look slower
through it than they travel.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from bench.drivers.serve import pipelined, sequential, serve, timed_calls, wait_answering

POLL_S = 0.05


class SaltDriver:
    def __init__(self, conf_path: str) -> None:
        import salt.config
        import salt.exceptions
        import salt.utils.event

        self.opts = salt.config.client_config(conf_path)
        self.events = salt.utils.event.get_event("master", opts=self.opts, listen=True)
        self._client_errors = (salt.exceptions.SaltClientError, salt.exceptions.AuthenticationError)
        self.client: Any = None

    def version(self) -> dict[str, str]:
        import salt.version
        import zmq

        return {"version": salt.version.__version__, "python": sys.version.split()[0], "pyzmq": zmq.__version__}

    def ready(self, timeout: float) -> float:
        """Wait until the master takes publications; seconds waited. LocalClient reads the
        master's key file (``cachedir/.root_key``) once, when made: make it after the master has
        written that file."""
        import salt.client

        key = os.path.join(self.opts["cachedir"], ".root_key")
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if os.path.exists(key):
                self.client = self.client or salt.client.LocalClient(mopts=self.opts)
                try:
                    self.client.run_job("bench-nobody", "test.ping", listen=False)
                    return time.perf_counter() - t0
                except self._client_errors:
                    pass
            time.sleep(0.2)
        raise TimeoutError(f"salt-master did not take publications within {timeout:g}s")

    def answering(self, ids: list[str], timeout: float, every: float) -> dict[str, Any]:
        def publish(silent: list[str]) -> None:
            try:
                self.client.run_job(silent, "test.ping", tgt_type="list", listen=False)
            except self._client_errors:
                pass  # the master is busy authenticating minions: probe again later

        with self._listening():
            return wait_answering(ids, timeout, every, publish,
                                  lambda: [mid for mid, _, ret in self._returns(POLL_S) if ret is True])

    def call(self, tgt: str, fun: str, args: list[Any], expect: Any, repeat: int,
             timeout: float | None = None) -> dict[str, Any]:
        return timed_calls(lambda: self.client.cmd(tgt, fun, args, timeout=timeout), expect, repeat)

    def call_bus(self, tgt: str, fun: str, args: list[Any], expect: Any, repeat: int,
                 timeout: float = 60.0) -> dict[str, Any]:
        """Like :meth:`call`, but the returns are read from the event bus."""
        with self._listening():
            return timed_calls(lambda: self._jobs(tgt, fun, args, 1, timeout)[0], expect, repeat)

    def jobs_sequential(self, mid: str, seconds: float) -> dict[str, Any]:
        return sequential(lambda: self.client.cmd(mid, "test.ping").get(mid) is True, seconds)

    def jobs_pipelined(self, mid: str, seconds: float, timeout: float) -> dict[str, Any]:
        def batch(k: int) -> int:
            return sum(1 for ret in self._jobs(mid, "test.ping", [], k, timeout) if ret.get(mid) is True)

        with self._listening():
            return pipelined(batch, seconds)

    def _jobs(self, tgt: str, fun: str, args: list[Any], k: int, timeout: float) -> list[dict[str, Any]]:
        """Publish ``k`` jobs, then collect their returns from the bus: ``[{minion_id: return}]``."""
        expected: dict[str, set[str]] = {}
        for _ in range(k):
            pub = self.client.run_job(tgt, fun, args, listen=False)
            if pub:
                expected[pub["jid"]] = set(pub["minions"])
        got: dict[str, dict[str, Any]] = {jid: {} for jid in expected}
        deadline = time.perf_counter() + timeout
        while any(expected.values()) and time.perf_counter() < deadline:
            for mid, jid, ret in self._returns(POLL_S):
                if mid in expected.get(jid, ()):
                    expected[jid].discard(mid)
                    got[jid][mid] = ret
        return list(got.values()) + [{}] * (k - len(got))

    @contextlib.contextmanager
    def _listening(self) -> Iterator[None]:
        """Subscribe to the event bus only while reading it: an unread subscriber would make
        the master buffer every event for it (and inflate its memory)."""
        if not self.events.connect_pub(timeout=10):
            raise ConnectionError("cannot subscribe to the salt-master event bus")
        try:
            yield
        finally:
            self.events.close_pub()

    def _returns(self, wait: float, limit: int = 10_000) -> list[tuple[str, str, Any]]:
        """Up to ``limit`` ``(minion_id, jid, return)`` of the job returns now on the bus."""
        out = []
        event = self.events.get_event(wait=wait, tag="salt/job/", full=True)
        while event is not None:
            tag, data = event["tag"], event["data"]
            if "/ret/" in tag and "id" in data:
                out.append((data["id"], data.get("jid", ""), data.get("return")))
            if len(out) >= limit:
                break
            event = self.events.get_event(tag="salt/job/", full=True, no_block=True)
        return out


if __name__ == "__main__":
    serve(SaltDriver(sys.argv[1]))
