"""``pvc master`` and ``pvc minion``: run a daemon in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from pvc.cli.options import config_dir

if TYPE_CHECKING:
    from pvc.master.coordinator import CoordinatorChild

log_level = click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error", "critical"]),
                         default=None, help="Override the config file's log_level.")


def _install_signals(stop: Callable[[], None]) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop())


@click.command()
@config_dir
@log_level
def master(config_dir: str, log_level: str | None) -> None:
    """Run the master: publish jobs to minions, collect returns into the job cache.

    Reads DIR/master (YAML; Salt's option names: interface, ret_port, channel_port,
    auto_accept, root_dir, timeout, nodegroups, job_cache, reactor...). Logs to stderr and to
    log_file. Stops cleanly on SIGTERM.
    """
    from pvc import logsetup
    from pvc.config import load_master
    from pvc.master.daemon import Master

    cfg = load_master(config_dir)
    if cfg.reactor:  # a bad rule is a one-line error now, not a coordinator that cannot start
        from pvc.reactor.config import check_reactor

        check_reactor(cfg.reactor)
    logsetup.setup(log_level or cfg.log_level, cfg.log_file)
    if cfg.reactor and cfg.cluster is None:
        import logging

        logging.getLogger("pvc.reactor").warning(
            "reactor: %d rule(s), but reactors run in the primary's coordinator and this master has no cluster: "
            "section; only a coordinator started by hand (python -m pvc.runners.coordinator --zk ...) runs them",
            len(cfg.reactor))
    # the constructor makes the client socket and PID file: a SIGTERM while it runs must still
    # stop the master cleanly (they are removed), not kill it by default and leave them behind
    early: list[bool] = []
    _install_signals(lambda: early.append(True))
    m = Master(cfg)
    _install_signals(m.stop)
    if early:
        m.stop()
    child = _start_coordinator(config_dir, log_level or cfg.log_level) if getattr(cfg, "cluster", None) else None
    try:
        m.run()
    finally:
        if child is not None:
            child.stop()


def _start_coordinator(config_dir: str, level: str) -> CoordinatorChild:
    """The cluster coordinator (``pvc.runners.coordinator``) as a child, started again if it dies:
    the master's own loop never touches ZooKeeper. It ends itself if the master dies (``--parent``)."""
    import os
    import sys

    from pvc.master.coordinator import CoordinatorChild

    return CoordinatorChild([sys.executable, "-m", "pvc.runners.coordinator", "-c", config_dir,
                             "--log-level", level, "--parent", str(os.getpid())]).start()


@click.command()
@config_dir
@log_level
@click.option("--swarm", type=click.IntRange(0, 100_000), default=0, metavar="N",
              help="Run N minion identities (<id>-0000...) in this one process, for scale tests.")
def minion(config_dir: str, log_level: str | None, swarm: int) -> None:
    """Run the minion: authenticate to the master, execute the jobs that target it.

    Reads DIR/minion (YAML: id, master, master_port, master_finger, root_dir, grains,
    modules, beacons...). Logs to stderr and to log_file. Stops cleanly on SIGTERM.
    """
    import json
    import os
    import sys

    from pvc.config import minion_from_mapping, read_minion_file

    data = read_minion_file(config_dir)
    cfg = minion_from_mapping(data, config_dir)  # config errors are reported here, by the CLI, as one line
    if cfg.beacons:
        from pvc.minion.beacons.config import parse_beacons

        parse_beacons(cfg.beacons)
    # exec (same PID) into the lean daemon image, which carries neither click nor YAML; the
    # parsed options travel in an inherited memfd: see pvc/minion/__main__.py
    fd = os.memfd_create("pvc-minion-config", 0)
    os.write(fd, json.dumps(data, default=str).encode())
    os.lseek(fd, 0, os.SEEK_SET)
    os.set_inheritable(fd, True)
    os.execv(sys.executable, [sys.executable, "-m", "pvc.minion", config_dir, log_level or "", str(swarm), str(fd)])
