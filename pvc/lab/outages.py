"""Outages of what a lab's nodes share: a node cut off the network, a ZooKeeper server killed.

Beside :mod:`pvc.lab.faults` (a node's own processes and power), these act on the links and the
ensemble, by PID and by link name, as the fault would on hardware:

* :func:`partition` — the host end of the node's veth goes down: nothing leaves or reaches the
  node (its ZooKeeper session expires, its masters lose it) while everything in it keeps
  running — its libvirtd still answers on its unix socket, so a VM running twice would still
  show; :func:`heal` brings the link up again (a power cycle rebuilds it anyway);
* :func:`zk_leader` — which server of a 3-server ensemble leads (its ``srvr`` mode);
  :func:`kill_zk` SIGKILLs one server; :func:`restart_zk` starts it again on its own data and
  config (it rejoins as a follower) and records its new PID in lab.json.

Example::

    partition(Path("/tmp/lab"), "hv2")           # hv2 should be fenced, its VMs run elsewhere once
    leader = zk_leader(Path("/tmp/lab")); kill_zk(Path("/tmp/lab"), leader)   # no node is fenced
    restart_zk(Path("/tmp/lab"), leader)
"""

from __future__ import annotations

import dataclasses
import signal
import time
from pathlib import Path

from pvc.lab import netns, procs, state, zookeeper
from pvc.lab.errors import LabError
from pvc.lab.state import ZkServer

KILL_TIMEOUT = 10.0


def partition(lab_dir: Path, node: str) -> None:
    """Cut the node's link on the host side (a no-op while the node is off: it has no link)."""
    netns.cut(state.load(lab_dir).node(node).veth)


def heal(lab_dir: Path, node: str) -> None:
    """Bring the node's link up again (a no-op once a power-off removed it)."""
    veth = state.load(lab_dir).node(node).veth
    if netns.link_exists(veth):
        netns.ip("link", "set", veth, "up", ok_missing=True)


def is_partitioned(lab_dir: Path, node: str) -> bool:
    """Whether the host end of the node's link is taken down (what :func:`partition` and
    :func:`heal` set)."""
    return netns.is_cut(state.load(lab_dir).node(node).veth)


def _server(lab_dir: Path, server_id: int) -> ZkServer:
    lab = state.load(lab_dir)
    for server in lab.zookeeper.servers:
        if server.id == server_id:
            return server
    raise LabError(f"no ZooKeeper server {server_id} in this lab ({len(lab.zookeeper.servers)} server(s))")


def zk_modes(lab_dir: Path) -> dict[int, str]:
    """Each server's mode ("leader", "follower", "standalone"; "" when it does not answer)."""
    lab = state.load(lab_dir)
    return {s.id: zookeeper.mode(lab.host_address, s.client_port) for s in lab.zookeeper.servers}


def zk_leader(lab_dir: Path, timeout: float = 30.0) -> int:
    """The id of the ensemble's leader, once one leads (an election may be under way)."""
    deadline = time.monotonic() + timeout
    while True:
        leaders = [sid for sid, mode in zk_modes(lab_dir).items() if mode in ("leader", "standalone")]
        if len(leaders) == 1:
            return leaders[0]
        if time.monotonic() >= deadline:
            raise LabError(f"no ZooKeeper leader within {timeout:g} s: {zk_modes(lab_dir)}")
        time.sleep(0.1)


def kill_zk(lab_dir: Path, server_id: int) -> None:
    """SIGKILL one ZooKeeper server and wait until it is gone."""
    server = _server(lab_dir, server_id)
    if not zookeeper.is_running(server):
        return
    procs.signal_pid(server.pid, signal.SIGKILL)
    if not procs.wait_dead([server.pid], KILL_TIMEOUT):
        raise LabError(f"ZooKeeper {server_id} (PID {server.pid}) still alive {KILL_TIMEOUT:g} s after SIGKILL")


def restart_zk(lab_dir: Path, server_id: int, timeout: float = 60.0) -> None:
    """Start a killed server again (its data kept) and wait until it serves."""
    server = _server(lab_dir, server_id)
    if zookeeper.is_running(server):
        return
    started = zookeeper.start(server)
    lab = state.update(lab_dir, lambda lab: dataclasses.replace(lab, zookeeper=dataclasses.replace(
        lab.zookeeper, servers=tuple(started if s.id == server_id else s for s in lab.zookeeper.servers))))
    zookeeper.wait_ready(lab.host_address, [started], timeout)
