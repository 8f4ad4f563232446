"""Isolated libvirtd instances ("hosts") on one machine, for the virt tests (root, no systemd).

A privileged libvirtd hard-codes /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt
and /var/log/libvirt, so each instance runs in a private mount namespace with its own directory
bind-mounted over those paths, its own ``host_uuid`` (libvirt refuses to migrate to "the same
host"), its own migration port range, and under :mod:`tests.cluster.subreaper`. The QEMU
capabilities cache is seeded from a shared directory, so a fresh daemon answers its first
``defineXML`` in ~0.02 s instead of probing QEMU for ~3.5 s. See ../shared/recipes/virt/README.md.
:func:`guest_spec` and :func:`serial_ticks` make test guests and read what a ticking one printed.

Example::

    with LibvirtHost(tmp / "h1", "h1") as host:
        libvirt.open(host.uri).listAllDomains()
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

from pvc.lab.guestkernel import ensure as guest_kernel
from tests.cluster.wait import wait_for

LIBVIRTD = "/usr/sbin/libvirtd"
CAPS_CACHE = Path(os.environ.get("PVC_VIRT_CAPS_CACHE", "/var/tmp/pvc-virt-caps-cache"))
SUBREAPER = Path(__file__).with_name("subreaper.py")
MOUNTS = {"etc": "/etc/libvirt", "run": "/run/libvirt", "lib": "/var/lib/libvirt",
          "cache": "/var/cache/libvirt", "log": "/var/log/libvirt"}

LIBVIRTD_CONF = """\
unix_sock_group = "root"
unix_sock_rw_perms = "0770"
auth_unix_ro = "none"
auth_unix_rw = "none"
listen_tls = 0
listen_tcp = 0
host_uuid = "{host_uuid}"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
"""
# No systemd, udev, AppArmor or cgroups in CI containers: switch those features off.
QEMU_CONF = """\
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
migration_port_min = {port_min}
migration_port_max = {port_max}
"""


def missing_kvm_support() -> str | None:
    """Why real-libvirt tests cannot run here (for pytest.skip), or None."""
    if os.geteuid() != 0:
        return "needs root (privileged libvirtd)"
    if not os.path.exists("/dev/kvm"):
        return "kernel exposes no /dev/kvm"
    return None


class LibvirtHost:
    """One libvirtd instance in ``root``; ``uri`` reaches it through its unix socket (from any
    network namespace). With ``netns`` the daemon and its guests' tap devices live in that
    (existing) network namespace, as on a simulated node."""

    def __init__(self, root: Path, name: str, migration_port_min: int = 49152, netns: str | None = None) -> None:
        self.root, self.name = Path(root), name
        self.port_min = migration_port_min
        self.netns = netns
        self.proc: subprocess.Popen[bytes] | None = None
        self.socket = self.root / "run" / "libvirt-sock"
        self.uri = f"qemu+unix:///system?socket={self.socket}"

    @property
    def caps_dir(self) -> Path:
        return self.root / "cache" / "qemu" / "capabilities"

    def start(self) -> Self:
        self._write_config()
        proc = self.proc = self._spawn()
        try:
            wait_for(lambda: (self.socket.exists() and self.pid is not None) or proc.poll() is not None,
                     timeout=30, what=f"libvirtd {self.name} socket")
        except TimeoutError:
            self.stop()
            raise
        if proc.poll() is not None:
            raise RuntimeError(f"libvirtd {self.name} exited: {(self.root / 'stdout.log').read_text()[-2000:]}")
        return self

    def _write_config(self) -> None:
        for sub in MOUNTS:
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "etc" / "qemu").mkdir(exist_ok=True)
        if CAPS_CACHE.is_dir():
            shutil.copytree(CAPS_CACHE, self.caps_dir, dirs_exist_ok=True)
        (self.root / "etc" / "libvirtd.conf").write_text(LIBVIRTD_CONF.format(host_uuid=uuid.uuid4()))
        (self.root / "etc" / "qemu.conf").write_text(
            QEMU_CONF.format(port_min=self.port_min, port_max=self.port_min + 63))
        (self.root / "etc" / "libvirt.conf").write_text("")
        for stale in ("libvirt-sock", "libvirt-sock-ro", "libvirt-admin-sock", "libvirtd.pid"):
            (self.root / "run" / stale).unlink(missing_ok=True)  # left by a previous run in this dir
        for target in MOUNTS.values():
            os.makedirs(target, exist_ok=True)  # mount points must exist on the host

    def _spawn(self) -> subprocess.Popen[bytes]:
        """libvirtd under the subreaper, in a private mount namespace (and ``netns``, if given)."""
        mounts = [f"mount --bind {shlex.quote(str(self.root / sub))} {dst}" for sub, dst in MOUNTS.items()]
        enter: list[str] = []
        if self.netns:  # /sys must show that namespace's devices, as `ip netns exec` arranges
            enter = ["nsenter", f"--net=/run/netns/{self.netns}"]
            mounts.append("mount -t sysfs sysfs /sys")
        script = f"{' && '.join(mounts)} && exec {LIBVIRTD} -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid"
        with open(self.root / "stdout.log", "wb") as out:
            return subprocess.Popen(
                ["/usr/bin/python3", str(SUBREAPER), *enter, "unshare", "--mount", "--propagation", "private",
                 "sh", "-c", script],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def qemu_pid(self, domain: str) -> int:
        """PID of the QEMU process running ``domain`` on this instance (from libvirt's pidfile)."""
        return int((self.root / "run" / "qemu" / f"{domain}.pid").read_text().strip())

    def save_caps_cache(self) -> None:
        """Copy this daemon's QEMU capabilities into the shared cache for later daemons and runs."""
        if any(self.caps_dir.glob("*.xml")):
            CAPS_CACHE.mkdir(parents=True, exist_ok=True)
            for xml in self.caps_dir.glob("*.xml"):
                shutil.copy2(xml, CAPS_CACHE / xml.name)

    @property
    def pid(self) -> int | None:
        """libvirtd's PID, from its pidfile (None before it wrote one)."""
        try:
            return int((self.root / "run" / "libvirtd.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        """SIGKILL this instance's QEMU processes and libvirtd (throwaway state), by their pidfiles."""
        for pidfile in (self.root / "run" / "qemu").glob("*.pid"):
            _kill(pidfile, signal.SIGKILL)
        _kill(self.root / "run" / "libvirtd.pid", signal.SIGKILL)
        if self.proc is not None:
            try:
                self.proc.wait(10)  # the subreaper exits once its last child is gone
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _kill(pidfile: Path, sig: signal.Signals) -> None:
    with contextlib.suppress(OSError, ValueError):  # already gone, or half-written by a dying daemon
        os.kill(int(pidfile.read_text().strip()), sig)



def guest_spec(name: str, ticking: bool = False) -> dict[str, Any]:
    """A ``virt.define`` spec for a 128 MiB test guest: disk-less under KVM (SeaBIOS spins, so the
    vCPU runs), or with ``ticking`` the tiny kernel under TCG that prints ``tick N`` each second
    on its serial log (builds the kernel cache on first use; ~10 s from start to the first tick).

    Example: ``pvc run hv1 virt.define`` with ``**guest_spec("vm1")``, then ``virt.start vm1``.
    """
    spec: dict[str, Any] = {"name": name, "vcpus": 1, "memory": 128}
    if ticking:
        kernel, initrd = guest_kernel()
        spec.update(type="qemu", kernel=str(kernel), initrd=str(initrd), cmdline="console=ttyS0 quiet panic=-1")
    return spec


def serial_ticks(lines: Iterable[str]) -> list[int]:
    """The ``N`` of each ``tick N`` line a ticking guest wrote (see :func:`guest_spec`); a guest
    that kept running through migrations shows ``[0, 1, 2, ...]`` without a gap or restart."""
    return [int(m.group(1)) for line in lines if (m := re.fullmatch(r"tick (\d+)", line.strip()))]
