"""The reactor as a coordinator service: the local master's event bus in, jobs and runners out.

The coordinator starts it while its master is primary and stops it on losing the seat, so one
reactor acts for the whole cluster. The bus is live (ZeroMQ PUB/SUB): a new primary sees the
events fired from the moment it subscribes, never older ones, so nothing is replayed. With
several masters, the primary hears its own master's bus: the cluster layer fires there and every
minion sends its events to each of its masters, so each event is heard once; an event a client
fires on another master stays on that master's bus.

Job and state actions are published from the bus thread, fire and forget (``stream=False``:
returns land in the job cache), and their jids are recorded before the next event is read, so
the job's own events are known to be the reactor's (loop protection, :mod:`pvc.reactor.limits`).
Runner actions may take minutes (a flush): they run in :data:`RUNNER_WORKERS` threads with at
most :data:`MAX_PENDING` waiting; beyond that an action is dropped and reported (a runner already
running when the seat is lost runs to its end; waiting ones are cancelled). Each step ends
in an event ``pvc/reactor/<rule>/<job|state|runner|notify|failed|throttled|loop|dropped>``.

Example (what the coordinator does)::

    service = ReactorService(cfg, lambda name, args, kwargs: registry.call(ctx, name, args, kwargs), "m1-coord")
    threading.Thread(target=service.run, args=(stop,)).start()
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pvc import events
from pvc.client import Client, listen
from pvc.config import MasterConfig
from pvc.errors import PvcError
from pvc.reactor.config import parse_reactor
from pvc.reactor.engine import Reactor, Step
from pvc.reactor.render import Renderer
from pvc.wire.codec import pack, unpack

log = logging.getLogger("pvc.reactor")
RunnerCall = Callable[[str, Sequence[Any], Mapping[str, Any]], Any]
RUNNER_WORKERS = 4
MAX_PENDING = 64          # runner actions waiting for a worker
MAX_EVENT = 1024 * 1024   # bytes of one event read from the bus
MAX_RESULT = 4096         # bytes of a runner's result copied into the report event


class ReactorService:
    name = "reactor"

    def __init__(self, cfg: MasterConfig, run_runner: RunnerCall, owner: str = "") -> None:
        self.cfg, self.run_runner, self.owner = cfg, run_runner, owner
        renderer = Renderer()
        self.reactor = Reactor(parse_reactor(cfg.reactor, renderer), renderer)

    def run(self, stop: threading.Event) -> None:
        if not self.reactor.rules:
            stop.wait()
            return
        import zmq

        prefixes = self.reactor.prefixes()
        sock = listen(self.cfg, prefixes[0])
        for prefix in prefixes[1:]:
            sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        runners = RunnerPool(self._run_runner)
        client = Client(config=self.cfg)
        log.info("reactor: %d rule(s) on %s", len(self.reactor.rules), ", ".join(prefixes))
        try:
            while not stop.is_set():
                if sock.poll(200):
                    self.handle(sock.recv_multipart(), client, runners)
        finally:
            sock.close(0)
            client.close()
            runners.close()

    def handle(self, frames: list[bytes], client: Client, runners: RunnerPool) -> None:
        """One frame pair from the bus; anything malformed is dropped, never raised."""
        event = _decode(frames)
        if event is None:
            return
        for step in self.reactor.plan(*event):
            try:
                self._execute(step, client, runners)
            except PvcError as exc:
                self._report(client, step, "failed", {"of": step.kind, "error": str(exc)})

    def _execute(self, step: Step, client: Client, runners: RunnerPool) -> None:
        f = step.fields
        if step.kind in ("job", "state"):
            pub = client.publish(f["tgt"], f["fun"], f["args"], f["kwargs"], f["tgt_type"],
                                 f["timeout"] or None, stream=False)
            self.reactor.published(pub.jid, step)
            self._report(client, step, step.kind, {"jid": pub.jid, "minions": list(pub.minions)})
        elif step.kind == "runner":
            if not runners.submit(step):
                self._report(client, step, "dropped", {"of": "runner", "error": f"{MAX_PENDING} runner actions wait"})
        else:
            if step.kind == "notify":
                log.log(logging.getLevelName(f["level"].upper()), "reactor %s: %s (event %s)",
                        step.rule, f["message"], step.trigger)
            else:
                log.warning("reactor %s: %s on %s: %s", step.rule, step.kind, step.trigger, step.fields)
            self._report(client, step, step.kind, {})

    def _run_runner(self, step: Step) -> None:
        """A worker thread: the runner, then its report through a client of this thread's own."""
        f = step.fields
        try:
            result = self.run_runner(f["name"], f["args"], f["kwargs"])
            kind, extra = "runner", {"ok": True, "result": _small(result)}
        except Exception as exc:  # noqa: BLE001 - a runner's failure is reported, never lost
            kind, extra = "failed", {"of": "runner", "error": f"{type(exc).__name__}: {exc}"}
            log.warning("reactor %s: runner %s failed on %s: %s", step.rule, f["name"], step.trigger, extra["error"])
        try:
            with Client(config=self.cfg) as client:
                self._report(client, step, kind, extra)
        except PvcError as exc:
            log.warning("reactor %s: cannot report runner %s: %s", step.rule, f["name"], exc)

    def _report(self, client: Client, step: Step, kind: str, extra: dict[str, Any]) -> None:
        """The event saying what was done: ``by`` names the coordinator (the primary) that did it."""
        client.fire_event(events.reactor(step.rule, kind), step.report(by=self.owner, **extra))


class RunnerPool:
    """Runner actions in :data:`RUNNER_WORKERS` threads, at most :data:`MAX_PENDING` accepted and
    not yet done. One per run of the service, so a backlog cancelled at the end of a run never
    counts against the next."""

    def __init__(self, work: Callable[[Step], None]) -> None:
        self._work = work
        self._pool = ThreadPoolExecutor(RUNNER_WORKERS, thread_name_prefix="reactor-runner")
        self._pending = 0
        self._lock = threading.Lock()

    def submit(self, step: Step) -> bool:
        with self._lock:
            if self._pending >= MAX_PENDING:
                return False
            self._pending += 1
        self._pool.submit(self._run, step)
        return True

    def _run(self, step: Step) -> None:
        try:
            self._work(step)
        finally:
            with self._lock:
                self._pending -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _decode(frames: list[bytes]) -> tuple[str, dict[str, Any], float] | None:
    if len(frames) != 2:
        return None
    try:
        event = unpack(frames[1], MAX_EVENT)
    except PvcError:
        return None
    if not isinstance(event, dict):
        return None
    tag, data, ts = event.get("tag"), event.get("data"), event.get("ts")
    if not isinstance(tag, str) or not isinstance(data, dict) or not isinstance(ts, (int, float)) \
            or isinstance(ts, bool) or not math.isfinite(ts):
        return None
    return tag, data, float(ts)


def _small(value: Any) -> Any:
    """``value`` if it packs into :data:`MAX_RESULT` bytes, else a note of its size."""
    try:
        size = len(pack(value))
    except (TypeError, ValueError, PvcError):
        return repr(value)[:200]
    return value if size <= MAX_RESULT else {"omitted": f"{size} bytes"}
