"""Power one simulated node on or off, from the host: what the node's BMC does to "hardware".

On: the node's namespace and veth (fixed MACs), a wiped /run/libvirt, then its init
(:mod:`pvc.lab.nodeinit`) in fresh PID, mount and UTS namespaces, which starts libvirtd and the
minion; the host PIDs are recorded in lab.json as they appear. Off is a power cut: the node's link
goes down first (no FIN or RST leaves it), then SIGKILL of its init takes every process of the
node with it (QEMU included), then the namespace goes. A lock per node (``DIR/nodes/NAME/power.lock``)
orders a power-off after a power-on still in progress.

Example::

    power_on(Path("/tmp/lab"), "hv1")    # returns once libvirtd and the minion run
    power_off(Path("/tmp/lab"), "hv1")   # returns once no process of hv1 is left
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from pvc.lab import libvirtd, netns, procs, state
from pvc.lab.errors import StartFailed
from pvc.lab.state import Node

INIT_MODULE = "pvc.lab.nodeinit"
UNSHARE = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "--mount", "--propagation", "private",
           "--uts", "--"]
BOOT_TIMEOUT = 20.0
T = TypeVar("T")


@contextmanager
def _power_lock(node: Node) -> Iterator[None]:
    fd = os.open(Path(node.dir) / "power.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def is_on(node: Node) -> bool:
    return procs.alive(node.init_pid, INIT_MODULE)


def init_spec(lab_dir: Path, node: Node) -> dict[str, object]:
    """What the node's init mounts and runs (written to ``NODE_DIR/init.json``)."""
    d = Path(node.dir)
    mounts = [[str(d / sub), dst] for sub, dst in libvirtd.MOUNTS.items()]
    mounts.append([str(Path(lab_dir) / "hosts"), "/etc/hosts"])
    minion = [sys.executable, "-m", "pvc.cli.main", "minion", "-c", node.minion_config_dir]
    return {"hostname": node.name, "log": str(d / "init.log"), "mounts": mounts,
            "children": [{"tag": "libvirtd", "argv": libvirtd.argv(), "log": str(d / "libvirtd.out")},
                         {"tag": "minion", "argv": minion, "env": {"PYTHONUNBUFFERED": "1"},
                          "log": str(d / "minion.out")}]}


def power_on(lab_dir: Path, name: str, wait: bool = True) -> Node:
    """Boot node ``name`` (a no-op if it runs); with ``wait``, return once its libvirtd socket
    exists and its minion runs, with their PIDs recorded."""
    lab = state.load(lab_dir)
    node = lab.node(name)
    with _power_lock(node):
        node = state.load(lab_dir).node(name)
        if is_on(node):
            return node
        _kill_leftovers(node)
        boot = node.boot + 1
        state.update_node(lab_dir, name, power="on", boot=boot, unshare_pid=0, init_pid=0, libvirtd_pid=0,
                          minion_pid=0)
        d = Path(node.dir)
        if not netns.netns_exists(node.netns):
            netns.create_netns(node.netns)
        if not netns.link_exists(node.veth):
            netns.plug_node(node.netns, node.veth, _veth_mac(node), node.mac, f"{node.address}/24", lab.bridge)
        netns.ip("link", "set", node.veth, "up")
        libvirtd.write_config(d, node.address)
        libvirtd.wipe_run(d)
        (d / "init.json").write_text(json.dumps(init_spec(lab_dir, node), indent=1))
        unshare = procs.spawn(["ip", "netns", "exec", node.netns, *UNSHARE, sys.executable, "-m", INIT_MODULE,
                               str(d / "init.json")], log=d / "unshare.out")
        init = _wait_value(lambda: procs.only_child(unshare), 5.0)
        if not init:
            raise StartFailed(f"node {name}: no init under unshare {unshare}: {procs.tail(d / 'unshare.out')}")
        node = state.update_node(lab_dir, name, unshare_pid=unshare, init_pid=init).node(name)
    if wait:
        node = wait_booted(lab_dir, node)
    return node


def wait_booted(lab_dir: Path, node: Node, timeout: float = BOOT_TIMEOUT) -> Node:
    """Find the host PIDs of the node's libvirtd and minion and record them (this boot only)."""
    d = Path(node.dir)
    sock = d / "run" / "libvirt-sock"
    found: dict[str, int] = {}

    def booted() -> bool:
        if not is_on(node):
            raise StartFailed(f"node {node.name}: init {node.init_pid} died: {procs.tail(d / 'init.log')}")
        pids = procs.in_pid_namespace(node.init_pid)
        found["libvirtd"] = procs.find_in(pids, libvirtd.LIBVIRTD)
        found["minion"] = procs.find_in(pids, node.minion_config_dir)
        return bool(found["libvirtd"] and found["minion"] and sock.exists())

    if not _wait_value(booted, timeout):
        raise StartFailed(f"node {node.name}: libvirtd/minion not running after {timeout:g}s: "
                          f"{procs.tail(d / 'libvirtd.out')} {procs.tail(d / 'minion.out')}")
    with state.locked(lab_dir):
        lab = state.load(lab_dir)
        current = lab.node(node.name)
        if current.boot == node.boot:  # not powered off (or cycled) meanwhile
            current = dataclasses.replace(current, libvirtd_pid=found["libvirtd"], minion_pid=found["minion"])
            state.save(lab.with_node(current))
        return current


def power_off(lab_dir: Path, name: str) -> float:
    """Cut node ``name``'s power; returns the seconds from the cut until its last process died."""
    node = state.load(lab_dir).node(name)
    with _power_lock(node):
        node = state.load(lab_dir).node(name)
        t0 = time.monotonic()
        netns.cut(node.veth)
        if procs.alive(node.init_pid, INIT_MODULE):
            procs.signal_pid(node.init_pid, signal.SIGKILL)
        gone = _kill_leftovers(node)
        elapsed = time.monotonic() - t0
        netns.delete_netns(node.netns)  # takes the veth pair with it
        netns.delete_link(node.veth)
        state.update_node(lab_dir, name, power="off", unshare_pid=0, init_pid=0, libvirtd_pid=0, minion_pid=0)
        if not gone:
            raise StartFailed(f"node {name}: processes still alive after power-off: "
                              f"{netns.netns_pids(node.netns) if netns.netns_exists(node.netns) else []}")
        return elapsed


def _kill_leftovers(node: Node) -> bool:
    """SIGKILL whatever still runs in the node's namespaces (by PID) and wait for it to die."""
    pids = set(netns.netns_pids(node.netns))
    if procs.alive(node.init_pid, INIT_MODULE):
        pids.update(procs.in_pid_namespace(node.init_pid))
        pids.add(node.init_pid)
    for pid in pids:
        procs.signal_pid(pid, signal.SIGKILL)
    return procs.wait_dead(pids, 10.0)


def _veth_mac(node: Node) -> str:
    return "02:01" + node.mac[5:]


def _wait_value(probe: Callable[[], T], timeout: float, every: float = 0.01) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)
