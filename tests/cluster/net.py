"""Network namespaces and the daemons run inside them, for the network/frr/dnsmasq tests.

A :class:`NetLab` owns every namespace and process it made: namespaces get unique, greppable
names (``pvcn<hex6>-<label>``), daemons run in the foreground as our children (so we reap them and
signal them by PID), and :meth:`NetLab.close` kills by PID, then removes the namespaces.

Example::

    with NetLab() as lab:
        a, b = lab.netns("a"), lab.netns("b")
        lab.veth(a, "va", b, "vb")
        proc = lab.spawn(a, ["sleep", "60"])
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from typing import Any, Self

from tests.cluster.wait import wait_for

VLAN_SKIP = "network: the kernel has no 802.1Q VLAN support (8021q)"


class NetLab:
    def __init__(self) -> None:
        self.tag = f"pvcn{uuid.uuid4().hex[:6]}"
        self.namespaces: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.dirs: list[str] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def netns(self, label: str) -> str:
        """A new namespace with ``lo`` up."""
        from pyroute2 import IPRoute, netns

        name = f"{self.tag}-{label}"
        netns.create(name)
        self.namespaces.append(name)
        with IPRoute(netns=name, flags=0) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        return name

    def veth(self, ns_a: str, name_a: str, ns_b: str, name_b: str) -> None:
        """A veth pair from ``ns_a`` to ``ns_b``, both ends up."""
        from pyroute2 import IPRoute

        with IPRoute(netns=ns_a, flags=0) as ipr:
            ipr.link("add", ifname=name_a, kind="veth", peer={"ifname": name_b, "net_ns_fd": ns_b})
            ipr.link("set", index=ipr.link_lookup(ifname=name_a)[0], state="up")
        with IPRoute(netns=ns_b, flags=0) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname=name_b)[0], state="up")

    def bridge(self, ns: str, name: str, address: str, ports: Sequence[str] = ()) -> None:
        """A bridge in ``ns`` with ``address`` (``10.50.0.1/24``) and these ports, all up."""
        from pyroute2 import IPRoute

        ip, prefix = address.split("/")
        with IPRoute(netns=ns, flags=0) as ipr:
            ipr.link("add", ifname=name, kind="bridge")
            index = ipr.link_lookup(ifname=name)[0]
            for port in ports:
                ipr.link("set", index=ipr.link_lookup(ifname=port)[0], master=index)
            ipr.addr("add", index=index, address=ip, prefixlen=int(prefix))
            ipr.link("set", index=index, state="up")

    def vxlan(self, ns: str, name: str, vni: int, local: str, bridge: str) -> None:
        """A VXLAN (UDP 4789, learning off) as a port of ``bridge``, up."""
        from pyroute2 import IPRoute

        with IPRoute(netns=ns, flags=0) as ipr:
            ipr.link("add", ifname=name, kind="vxlan", vxlan_id=vni, vxlan_local=local, vxlan_port=4789,
                     vxlan_learning=0)
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], master=ipr.link_lookup(ifname=bridge)[0],
                     state="up")

    def address(self, ns: str, name: str, address: str) -> None:
        from pyroute2 import IPRoute

        ip, prefix = address.split("/")
        with IPRoute(netns=ns, flags=0) as ipr:
            ipr.addr("add", index=ipr.link_lookup(ifname=name)[0], address=ip, prefixlen=int(prefix))

    def frr(self, ns: str) -> str:
        """Start zebra + bgpd in ``ns`` as the frr user with empty configs; return the instance
        directory (vty sockets, zserv socket, pid files, logs; 0755 and owned by frr, because
        pytest's tmp dirs are 0700 and FRR drops to the frr user). Configure it with frr.apply."""
        user = pwd.getpwnam("frr")
        base = tempfile.mkdtemp(prefix=f"{self.tag}-frr-")
        self.dirs.append(base)
        os.chmod(base, 0o755)
        os.chown(base, user.pw_uid, user.pw_gid)
        for daemon in ("zebra", "bgpd"):
            conf = os.path.join(base, f"{daemon}.conf")
            open(conf, "w").close()
            os.chown(conf, user.pw_uid, user.pw_gid)
            self.spawn(ns, [f"/usr/lib/frr/{daemon}", "-u", "frr", "-g", "frr", "-f", conf,
                            "-i", os.path.join(base, f"{daemon}.pid"), "--vty_socket", base,
                            "-z", os.path.join(base, "zserv.api"), "-A", "127.0.0.1"],
                       log=os.path.join(base, f"{daemon}.out"))
            # bgpd that finds no zserv socket retries only after ~10 s: start it once zebra listens
            sock = os.path.join(base, f"{daemon}.vty")
            wait_for(lambda sock=sock: os.path.exists(sock), 10, sock)
        return base

    def set_mac(self, ns: str, name: str, mac: str) -> None:
        from pyroute2 import IPRoute

        with IPRoute(netns=ns, flags=0) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], address=mac)

    def spawn(self, ns: str, argv: Sequence[str], log: str | None = None, **kw: Any) -> subprocess.Popen[bytes]:
        """Run ``argv`` in the foreground inside ``ns``; ``ip netns exec`` execs, so the pid is the daemon's."""
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, **kw)
        self.procs.append(proc)
        return proc

    def run(self, ns: str, argv: Sequence[str], timeout: float = 10) -> subprocess.CompletedProcess[str]:
        """Run a short command in ``ns`` and wait for it (bounded)."""
        return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True,
                              timeout=timeout, check=False)

    def close(self) -> None:
        for proc in self.procs:
            stop(proc)
        self.procs.clear()
        for ns in reversed(self.namespaces):
            remove_netns(ns)
        self.namespaces.clear()
        for path in self.dirs:
            shutil.rmtree(path, ignore_errors=True)
        self.dirs.clear()


def stop(proc: subprocess.Popen[bytes], timeout: float = 5) -> None:
    """SIGTERM, wait, SIGKILL: a process we own, by PID."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def netns_pids(ns: str) -> list[int]:
    """PIDs whose network namespace is ``ns`` (daemons that forked away from us, e.g. dnsmasq)."""
    try:
        target = os.stat(f"/run/netns/{ns}")
    except FileNotFoundError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
            pids.append(int(entry))
    return pids


def remove_netns(ns: str) -> None:
    """Kill what still runs in ``ns`` (by PID), then remove it."""
    from pyroute2 import netns

    for pid in netns_pids(ns):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_for(lambda: not netns_pids(ns), 5, f"processes in {ns} to exit")
    try:
        netns.remove(ns)
    except FileNotFoundError:
        pass


def vlan_supported() -> bool:
    """Probe the kernel for 802.1Q: make a VLAN on a throw-away veth in a throw-away namespace."""
    from pyroute2 import IPRoute, netns
    from pyroute2.netlink.exceptions import NetlinkError

    name = f"pvcn{uuid.uuid4().hex[:6]}-vlanprobe"
    netns.create(name)
    try:
        with IPRoute(netns=name, flags=0) as ipr:
            ipr.link("add", ifname="p0", kind="veth", peer="p1")
            try:
                ipr.link("add", ifname="p0.10", kind="vlan", link=ipr.link_lookup(ifname="p0")[0], vlan_id=10)
            except NetlinkError as exc:
                if exc.code == errno.EOPNOTSUPP:
                    return False
                raise
        return True
    finally:
        remove_netns(name)
