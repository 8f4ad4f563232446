"""The coordinator: contends for primary through ZooKeeper and, while primary, runs the
orchestration services; a client of its local master for everything on nodes.

``pvc master`` starts it as a child process when its config has ``cluster:`` (the master's own
loop never touches ZooKeeper). Several masters -> several coordinators -> one primary; when the
primary dies, the next one wins within about one ZooKeeper session timeout and resumes what was
left open (flush/ready requests are in ZooKeeper step by step).

The services, in the one explicit list :data:`SERVICES`: the flush/ready request queue, the VM
state sync from the event bus, the fence monitor (dead nodes fenced, their VMs started
elsewhere), the VM restarter (a crashed VM started again) and the reactor. Each is a class with ``name`` and ``run(stop)``; on losing the
primary seat ``stop`` is set and they return.

Example::

    python -m pvc.runners.coordinator -c /etc/pvc            # ZooKeeper from the master's cluster:
    python -m pvc.runners.coordinator -c DIR --zk 10.0.0.1:2181 --root /pvc --id m2
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

from pvc.config import FenceSection, MasterConfig, load_master
from pvc.errors import ConfigError, PvcError
from pvc.runners.context import DEFAULT_MIGRATE_URI, RunnerContext
from pvc.runners.fencemonitor import FenceMonitor
from pvc.runners.jobs import NodeJobs
from pvc.runners.queue import RequestQueue
from pvc.runners.statesync import VMStateSync
from pvc.runners.vmrestart import VMRestarter

log = logging.getLogger("pvc.runners.coordinator")
SHARED_CACHE_CHECK = 30.0  # seconds between checks that several masters share one job cache


class StopRequest:
    """A stop that a signal handler may ask for: it writes one byte to a pipe and takes no lock.
    ``threading.Event.set()`` in a handler deadlocks when the signal lands while the main thread
    waits on that same event (the handler runs inside ``Event.wait`` holding its lock): the
    coordinator then outlived a killed master and even took the primary seat after it."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)

    def request(self) -> None:
        try:
            os.write(self._write, b"!")
        except BlockingIOError:  # the pipe is full of earlier requests: one is enough
            pass

    def wait(self, timeout: float) -> bool:
        """True once a stop was asked for (now or within ``timeout`` seconds)."""
        return bool(select.select([self._read], [], [], timeout)[0])


class Service(Protocol):
    name: str

    def run(self, stop: threading.Event) -> None: ...


def _reactor(ctx: RunnerContext, cfg: MasterConfig, owner: str) -> Service:
    """The reactor (``reactor:`` rules, :mod:`pvc.reactor`); its runner actions run here, on the primary."""
    from pvc.reactor.service import ReactorService
    from pvc.runners.registry import default_registry

    registry = ctx.registry or default_registry()
    return ReactorService(cfg, lambda name, args, kwargs: registry.call(ctx, name, args, kwargs), owner)


SERVICES: tuple[Callable[[RunnerContext, MasterConfig, str], Service], ...] = (
    lambda ctx, cfg, owner: RequestQueue(ctx, owner),
    lambda ctx, cfg, owner: VMStateSync(ctx, cfg),
    lambda ctx, cfg, owner: FenceMonitor(ctx, cfg.cluster.fence if cfg.cluster else FenceSection(), owner),
    lambda ctx, cfg, owner: VMRestarter(ctx, cfg),
    _reactor,
)


class Coordinator:
    def __init__(self, master_dir: str, zk_hosts: str | None = None, root: str | None = None,
                 identity: str | None = None, session_timeout: float | None = None,
                 migrate_uri: str = DEFAULT_MIGRATE_URI) -> None:
        self.cfg = load_master(master_dir)
        if self.cfg.reactor:  # a bad rule stops the start, not the primary's services later
            from pvc.reactor.config import check_reactor

            check_reactor(self.cfg.reactor)
        cluster = self.cfg.cluster
        hosts = zk_hosts or (cluster.zookeeper if cluster else None)
        if not hosts:
            raise ConfigError(f"no ZooKeeper: add cluster: {{zookeeper: HOSTS}} to {master_dir}/master or pass --zk")
        self.master_dir, self.hosts = master_dir, hosts
        self.root = root or (cluster.root if cluster else "/pvc")
        self.session_timeout = session_timeout or (cluster.session_timeout if cluster else 3.0)
        self.identity = identity or f"{socket.gethostname().split('.')[0]}-{os.path.basename(master_dir.rstrip('/'))}"
        self.migrate_uri = migrate_uri
        self._stop = threading.Event()
        self._stop_request = StopRequest()
        self._services_stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.election: Any = None
        self.ctx: RunnerContext | None = None
        self._warned_cache = False

    def run(self) -> None:
        from pvc.client import Client
        from pvc.cluster.client import connect
        from pvc.cluster.election import PrimaryElection
        from pvc.cluster.store import ClusterStore
        from pvc.runners.registry import default_registry

        client = connect(self.hosts, session_timeout=self.session_timeout)
        jobs = NodeJobs(lambda: Client(self.master_dir, config=self.cfg))
        try:
            store = ClusterStore.open(client, self.root)
            self.ctx = RunnerContext(store, jobs, log, jobs.fire, registry=default_registry(),
                                     migrate_uri=self.migrate_uri, identity=self.identity)
            self.election = PrimaryElection(store, self.identity, self._on_gain, self._on_loss)
            self.election.start()
            self._mirror_keys(client)
            log.info("coordinator %s: contending for primary (%s%s)", self.identity, self.hosts, self.root)
            while not self._stop_request.wait(SHARED_CACHE_CHECK):
                self._check_shared_cache()
            self._stop.set()
            self.election.stop()
            self._on_loss()
        finally:
            jobs.close()
            client.close()

    def stop(self) -> None:
        """Safe to call from a signal handler (see :class:`StopRequest`)."""
        self._stop_request.request()

    def _mirror_keys(self, client: Any) -> None:
        """Every master, primary or not, keeps its minion keys in step with the cluster's."""
        from pvc.client import Client
        from pvc.runners.keymirror import KeyMirror

        def notify() -> None:
            with Client(self.master_dir, config=self.cfg) as master:
                master.keys_changed()

        mirror = KeyMirror(client, self.root, self.cfg.pki_dir, notify)
        thread = threading.Thread(target=self._service, args=(mirror, self._stop), name=mirror.name, daemon=True)
        thread.start()

    def _check_shared_cache(self) -> None:
        """Several masters must share one PostgreSQL job cache: a minion's return reaches another
        master when the one that published the job is gone, and only a shared cache lets that
        master store it. Say so (once) when this master keeps its own SQLite file."""
        if self._warned_cache or self.election is None:
            return
        others = [c for c in self.election.contenders() if c != self.identity]
        if others and not self.cfg.job_cache.startswith(("postgresql://", "postgres://")):
            self._warned_cache = True
            log.error("coordinator %s: %d other master(s) in this cluster (%s) but this master's job cache is its "
                      "own SQLite file: set job_cache: postgresql://... (the same database) on every master",
                      self.identity, len(others), ", ".join(sorted(others)))

    def _on_gain(self) -> None:  # the election's thread: start, do not block
        assert self.ctx is not None
        self._services_stop = stop = threading.Event()
        for make in SERVICES:
            service = make(self.ctx, self.cfg, self.identity)
            thread = threading.Thread(target=self._service, args=(service, stop), name=service.name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("coordinator %s: primary, running %s", self.identity, ", ".join(self._names()))

    def _names(self) -> list[str]:
        return [t.name for t in self._threads if t.is_alive()]

    def _on_loss(self) -> None:
        self._services_stop.set()
        for thread in self._threads:
            thread.join(2.0)
        self._threads = [t for t in self._threads if t.is_alive()]
        log.info("coordinator %s: not primary; services stopped", self.identity)

    def _service(self, service: Service, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                service.run(stop)
            except Exception as exc:  # noqa: BLE001 - a service restarts, the coordinator stays
                log.warning("service %s failed (restarting): %r", service.name, exc)
                stop.wait(1.0)


def _die_with_parent(parent: int) -> None:
    """SIGTERM when ``parent`` dies (Linux PR_SET_PDEATHSIG); if it died before we asked, now."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pvc.runners.coordinator", description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config-dir", required=True, help="the master's config directory")
    parser.add_argument("--zk", default=None, help="ZooKeeper hosts (default: the master's cluster.zookeeper)")
    parser.add_argument("--root", default=None, help="cluster root znode (default: cluster.root or /pvc)")
    parser.add_argument("--id", default=None, help="election identity (default: HOST-<config dir name>)")
    parser.add_argument("--session-timeout", type=float, default=None)
    parser.add_argument("--migrate-uri", default=DEFAULT_MIGRATE_URI,
                        help="libvirt URI of a destination node, {node} replaced (default: %(default)s)")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--parent", type=int, default=0,
                        help="PID of the master that started us: end when it dies (SIGTERM via prctl)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("kazoo").setLevel(logging.WARNING)
    try:
        coordinator = Coordinator(args.config_dir, args.zk, args.root, args.id, args.session_timeout,
                                  args.migrate_uri)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: coordinator.stop())
        if args.parent:
            _die_with_parent(args.parent)
        coordinator.run()
    except PvcError as exc:  # a bad config, no ZooKeeper, an uninitialised tree: one line, not a traceback
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
