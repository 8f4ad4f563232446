"""The lab's network "hardware": one bridge on the host, one namespace and veth pair per node.

Driven through iproute2's ``ip`` (argv lists, never a shell) rather than pyroute2: the BMC runs a
fresh Python process for every power command, and importing pyroute2 (~0.15 s) would more than
double the time from ``chassis power off`` to a dead node; ``ip`` costs ~3 ms a call. Nodes start
with ``ip netns exec`` anyway (it also gives the node a /sys of its own namespace).

Example::

    create_bridge("pvl3f2a1", "02:00:0a:d5:07:01", "10.213.7.1/24")
    create_netns("pvl3f2a1-hv1")
    plug_node("pvl3f2a1-hv1", "pvl3f2a1v1", "02:01:...", "02:00:...", "10.213.7.11/24", "pvl3f2a1")
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pvc.lab.errors import LabError

NETNS_DIR = Path("/run/netns")
NODE_IFNAME = "eth0"
IFF_UP = 0x1  # <linux/if.h>: the link is administratively up


def ip(*args: str, netns: str | None = None, ok_missing: bool = False) -> str:
    """Run ``ip ARGS`` (in ``netns`` with ``-n``); a failure is a LabError quoting ip's message,
    except "does not exist" errors with ``ok_missing`` (idempotent teardown)."""
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        err = proc.stderr.strip()
        if ok_missing and ("Cannot find device" in err or "No such file" in err or "does not exist" in err):
            return ""
        raise LabError(f"{' '.join(argv)}: {err or f'exit {proc.returncode}'}")
    return proc.stdout


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def host_links(prefix: str) -> list[str]:
    return sorted(n for n in os.listdir("/sys/class/net") if n.startswith(prefix))


def create_bridge(name: str, mac: str, cidr: str) -> None:
    ip("link", "add", name, "address", mac, "type", "bridge")
    ip("addr", "add", cidr, "dev", name)
    ip("link", "set", name, "up")


def delete_link(name: str) -> None:
    if link_exists(name):
        ip("link", "del", name, ok_missing=True)


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def netns_list(prefix: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []


def create_netns(name: str) -> None:
    ip("netns", "add", name)
    ip("link", "set", "lo", "up", netns=name)


def delete_netns(name: str) -> None:
    if netns_exists(name):
        ip("netns", "del", name, ok_missing=True)


def netns_pids(name: str) -> list[int]:
    """Host PIDs of every process in namespace ``name`` (the ``unshare`` parent included)."""
    if not netns_exists(name):
        return []
    return [int(p) for p in ip("netns", "pids", name, ok_missing=True).split()]


def plug_node(netns: str, veth: str, veth_mac: str, node_mac: str, cidr: str, bridge: str) -> None:
    """A veth pair: ``veth`` in ``bridge`` on the host, ``eth0`` with ``cidr`` in ``netns``."""
    ip("link", "add", veth, "address", veth_mac, "type", "veth",
       "peer", "name", NODE_IFNAME, "address", node_mac, "netns", netns)
    ip("link", "set", veth, "master", bridge, "up")
    ip("addr", "add", cidr, "dev", NODE_IFNAME, netns=netns)
    ip("link", "set", NODE_IFNAME, "up", netns=netns)


def cut(veth: str) -> None:
    """Take the host end of a node's link down: nothing (not even a FIN or RST) leaves the node."""
    if link_exists(veth):
        ip("link", "set", veth, "down", ok_missing=True)


def is_cut(veth: str) -> bool:
    """Whether :func:`cut` took the link down (False when there is no such link). Read from the
    link's flags, which change with the command: its ``operstate`` follows later, from the
    kernel's link watcher (up to a second), and read just after the link came up again it still
    said "down"."""
    try:
        flags = int(Path(f"/sys/class/net/{veth}/flags").read_text(), 16)
    except (OSError, ValueError):
        return False
    return not flags & IFF_UP


def routes_to(prefix: str) -> list[str]:
    """Host routes and addresses mentioning ``prefix`` (e.g. ``10.213.7.``)."""
    text = ip("-4", "route", "show") + ip("-4", "-o", "addr", "show")
    return [line for line in text.splitlines() if prefix in line]
