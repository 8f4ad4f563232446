"""The minion process: one poll loop driving one or many :class:`MinionCore` identities.

``pvc minion -c DIR`` drives one. ``pvc minion -c DIR --swarm N`` drives N identities
(``<id>-0000`` ...) in one process for scale tests: each has its own keys, sockets, session,
replay cache and target matching, so every publication goes through the same code as on a
real node; only the thread pool, the grains probe and the module registry are shared.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import zmq

from pvc.config import MinionConfig
from pvc.execution.context import EventSink
from pvc.keys import load_or_create_identity
from pvc.minion.core import MinionCore
from pvc.minion.enrol import ENROLLING_MAX, EnrolSlots
from pvc.minion.functions import MinionFunctions
from pvc.minion.runner import JobRunner
from pvc.minion.socketloop import SocketLoop
from pvc.minion.ticks import TickPlan

if TYPE_CHECKING:
    from pvc.minion.beacons.loop import BeaconLoop
    from pvc.minion.mineschedule import MineSchedule
    from pvc.minion.nodestate import NodePresence

log = logging.getLogger(__name__)
TICK = 0.1  # seconds between two looks at the identities' timers (pvc.minion.ticks: which ones)
# descriptors per identity and master: the channel's socket and its TCP connection, the monitor's
# pair of sockets, the spool, and one for sockets closing (measured: 5.0 at 2,500 identities,
# through a master restart); each enrolment slot holds a socket and its TCP connection
FDS_PER_CORE = 6
FDS_PER_ENROLMENT = 2
FDS_BASE = 256  # the interpreter, libzmq's own, logs, the job runner, subprocesses' pipes


class MinionProcess:
    def __init__(self, cfg: MinionConfig, swarm: int = 0) -> None:
        # the mine: imported only when mine_functions is set, and checked before any socket opens
        self.mine: MineSchedule | None = None
        if cfg.mine_functions and not swarm:
            from pvc.minion.mineschedule import MineSchedule as Schedule

            self.mine = Schedule(cfg)
        self.zctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        self.runner = JobRunner(cfg.workers, max_workers=cfg.max_workers, queue_size=cfg.job_queue_size,
                                cluster_workers=cfg.cluster_workers, cluster_max_workers=cfg.cluster_max_workers,
                                job_timeout=cfg.job_timeout or None, kill_grace=cfg.kill_grace)
        self.sockets = SocketLoop()  # O(ready) per turn: a swarm process holds ~10,000 sockets
        self.sockets.add_fd(self.runner.fd, self.runner.run_pending)
        self.cores: list[MinionCore] = []
        self.enrol_slots = EnrolSlots()  # enrolment connections open at once, over all identities
        self.functions: list[MinionFunctions] = []
        self._stop = False
        if swarm:
            configs = [dataclasses.replace(cfg, id=f"{cfg.id}-{n:04d}",
                                           pki_dir=os.path.join(cfg.pki_dir, f"{cfg.id}-{n:04d}"),
                                           source_address=_nth_address(cfg.source_address, n))
                       for n in range(swarm)]
        else:
            configs = [cfg]
        masters = cfg.masters
        # per identity and master: enrolment, channel, its monitor (a pair: two sockets); twice
        # that, since libzmq counts a closed socket until its reaper thread has freed it
        self.zctx.max_sockets = max(1024, 8 * len(configs) * len(masters) + 64)
        _raise_fd_limit(fds_needed(len(configs) * len(masters)))
        base = MinionFunctions(cfg)
        self.functions.append(base)
        for c in configs:
            if c is cfg:
                funcs = base
            else:
                funcs = MinionFunctions(c, grains={**base.grains, "id": c.id}, registry=base.registry)
                self.functions.append(funcs)
            identity = load_or_create_identity(c.pki_dir, "minion")
            # one protocol core per master: each answers the jobs its master published
            cores = [MinionCore(_for_master(c, address), identity, funcs, self.runner, self.zctx, self.sockets,
                                self.enrol_slots)
                     for address in masters]
            funcs.events = _fan_out(cores)  # every master's bus hears this node's events
            for core in cores:
                core.siblings = [other for other in cores if other is not core]
            self.cores.extend(cores)
        base.start_hooks()  # after the event sinks are wired, so hooks can fire events
        # beacons: imported and threaded only when configured (an idle minion pays nothing)
        self.beacons: BeaconLoop | None = None
        if cfg.beacons and not swarm:
            from pvc.minion.beacons.loop import BeaconLoop as Beacons

            self.beacons = Beacons.start(cfg, base.events)
        if self.mine is not None:
            self.mine.serve(base, self.cores, self.runner)
        # a hypervisor node: its keepalive in ZooKeeper (not for a swarm of test identities)
        self.presence: NodePresence | None = None
        if cfg.cluster is not None and not swarm:
            from pvc.minion.nodestate import NodePresence as Presence  # kazoo and all: only on hypervisors

            self.presence = Presence.start(cfg, base)

    def stop(self) -> None:
        self._stop = True

    def run(self) -> None:
        ids = len({core.id for core in self.cores})
        masters = sorted({address for core in self.cores for address in core.cfg.masters})
        log.info("minion up: %d identit%s, master%s %s (port %d)", ids, "y" if ids == 1 else "ies",
                 "s" if len(masters) > 1 else "", ", ".join(masters), self.cores[0].cfg.master_port)
        plan = TickPlan(self.cores, TICK)
        for core in self.cores:
            core.state_hook = plan.state_changed
        next_tick = 0.0
        try:
            while not self._stop:
                now = time.monotonic()
                if now >= next_tick:
                    for core in plan.due(now):
                        core.tick(now)
                    if self.mine is not None:
                        self.mine.tick(now)
                    next_tick = now + TICK
                self.sockets.poll(max(1, int((next_tick - time.monotonic()) * 1000)))
        finally:
            self.close()

    def close(self) -> None:
        if self.presence is not None:
            self.presence.stop()  # first: a clean stop says "stopped", so no one fences this node
        if self.beacons is not None:
            self.beacons.stop()
        if sum(core.bye() for core in self.cores):
            self.sockets.flush()
            time.sleep(0.05)  # one wait for every identity's bye to leave (LINGER is 0)
        for core in self.cores:
            core.close()
        self.runner.close()
        self.sockets.close()
        for funcs in self.functions:
            funcs.close()
        log.info("minion stopped")


def _nth_address(base: str, n: int) -> str:
    """Swarm identity ``n``'s source address: ``base`` + n (none when ``base`` is empty)."""
    import ipaddress

    return str(ipaddress.ip_address(base) + n) if base else ""


def fds_needed(cores: int) -> int:
    """Descriptors a process of ``cores`` protocol cores (identities x masters) may hold at once."""
    return FDS_PER_CORE * cores + FDS_PER_ENROLMENT * min(cores, ENROLLING_MAX) + FDS_BASE


def _raise_fd_limit(want: int) -> None:
    """Raise this process's open-file limit to ``want`` when it is lower (a swarm process of
    2,500 identities holds ~12,500 descriptors: each socket's mailbox, its TCP connections, a
    spool file); beyond the hard limit only root may go. Not enough is logged, not fatal: a
    normal minion needs a few dozen."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, hard) if hard != resource.RLIM_INFINITY else hard))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        log.warning("open-file limit %d is below the %d this process needs (raise LimitNOFILE)", hard, want)


def _for_master(cfg: MinionConfig, address: str) -> MinionConfig:
    """``cfg`` for one of its masters: ``host`` (with ``master_port``) or ``host:port``."""
    host, sep, port = address.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return dataclasses.replace(cfg, master=host, master_port=int(port))
    return dataclasses.replace(cfg, master=address)


def _fan_out(cores: list[MinionCore]) -> EventSink:
    if len(cores) == 1:
        return cores[0].fire_event

    def fire(tag: str, data: Mapping[str, Any]) -> None:
        for core in cores:
            core.fire_event(tag, data)

    return fire


def run_minion(cfg: MinionConfig, swarm: int = 0, install_signals: Any = None) -> None:
    proc = MinionProcess(cfg, swarm)
    if install_signals is not None:
        install_signals(proc.stop)
    proc.run()
