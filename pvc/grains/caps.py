"""Capability grains: can this node run VMs, reach Ceph, route with FRR, serve DHCP?

Each area gives two grains, shaped for Salt-style grain targeting:

- ``virt``, ``storage``, ``network``: the list of capabilities that are present, e.g.
  ``virt: [kvm, libvirt, libvirtd, qemu]``. Salt matches a list grain when any item matches,
  so ``pvc run -G virt:kvm ...`` targets exactly the nodes where KVM is usable and
  ``-C 'G@network:frr and G@storage:ceph'`` the routing Ceph clients. (A mapping such as
  ``{kvm: false}`` would not do: Salt's matcher treats ``virt:kvm`` as "has the key kvm".)
- ``virt_caps``, ``storage_caps``, ``network_caps``: the details, every probe named even when
  false, with versions and paths, e.g. ``grains.get virt_caps:libvirt_version`` -> ``"9.0.0"``,
  or ``-G virt_caps:hypervisor:qemu`` for TCG-only nodes.

A grain claims what works, not what is installed: ``libvirtd`` is true only when a libvirt daemon's
socket accepts a connection (a daemon installed but stopped, or a stale socket file, is false), so
``-G virt:libvirtd`` never targets a node where ``virt.list`` cannot connect.

The rule tying them: the list holds the names of the ``*_caps`` entries whose value is ``True``.

Example::

    virt_grains(Host())
    # {"virt": ["kvm", "libvirt", "qemu"],
    #  "virt_caps": {"kvm": True, "qemu": True, "libvirt": True, "libvirtd": False,
    #                "libvirtd_socket": None, "libvirt_version": "9.0.0", "hypervisor": "kvm"}}
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from pvc.grains.cephprobe import ceph_caps
from pvc.grains.host import Host

# uname machine -> QEMU's system emulator suffix, where they differ.
QEMU_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "ppc64le": "ppc64", "armv7l": "arm"}
_LIBVIRT_SO = re.compile(r"^libvirt\.so\.0\.(\d+)\.(\d+)$")
# The read-write sockets of qemu:///system: the modular daemon's first (virtqemud), then libvirtd's.
LIBVIRT_SOCKETS = ("/run/libvirt/virtqemud-sock", "/run/libvirt/libvirt-sock")
# A local daemon accepts at once; this bounds the probe when one is wedged with a full backlog.
SOCKET_TIMEOUT = 0.05


def libvirt_version(library_file: str | None) -> str | None:
    """libvirt's version from its library file name: ``libvirt.so.0.9000.0`` -> ``"9.0.0"``
    (libvirt numbers the file ``0.<major*1000+minor>.<micro>``)."""
    match = _LIBVIRT_SO.match(library_file or "")
    if not match:
        return None
    packed, micro = int(match.group(1)), int(match.group(2))
    return f"{packed // 1000}.{packed % 1000}.{micro}"


def answering_socket(host: Host, paths: tuple[str, ...] = LIBVIRT_SOCKETS,
                     timeout: float = SOCKET_TIMEOUT) -> str | None:
    """The first of ``paths`` (under the host's root) whose Unix socket accepts a connection, or None.

    A connect, no libvirt import and no bytes exchanged: microseconds when the daemon runs or the
    file is missing, at most ``timeout`` per path when it is wedged. Never raises.
    """
    import stat

    for path in paths:
        real = host.path(path)
        try:
            if not stat.S_ISSOCK(os.stat(real).st_mode):
                continue
        except OSError:
            continue
        import socket  # only when a socket file exists: most minions never pay for it

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(real)
        except OSError:  # refused (stale file), timed out, permission denied, path too long
            continue
        finally:
            sock.close()
        return path
    return None


def virt_grains(host: Host) -> dict[str, Any]:
    """``virt`` and ``virt_caps``: KVM usable (``/dev/kvm`` opens read-write), a QEMU system
    emulator for this CPU, the libvirt client library (and its version), a libvirt daemon that
    answers on its socket (``libvirtd_socket`` names it), and the ``hypervisor`` libvirt domains
    would get here: ``kvm``, ``qemu`` (TCG only) or None."""
    machine = os.uname().machine
    kvm = host.can_open_rw("/dev/kvm")
    qemu = host.which(f"qemu-system-{QEMU_ARCH.get(machine, machine)}") is not None
    library = host.library("libvirt.so.0")
    daemon = answering_socket(host)
    caps = {
        "kvm": kvm,
        "qemu": qemu,
        "libvirt": library is not None,
        "libvirtd": daemon is not None,
        "libvirtd_socket": daemon,
        "libvirt_version": libvirt_version(library),
        "hypervisor": ("kvm" if kvm else "qemu") if qemu else None,
    }
    return _area("virt", caps)


def storage_grains(host: Host) -> dict[str, Any]:
    """``storage`` and ``storage_caps`` (see :func:`pvc.grains.cephprobe.ceph_caps`)."""
    return _area("storage", ceph_caps(host))


def network_grains(host: Host) -> dict[str, Any]:
    """``network`` and ``network_caps``: FRR (``vtysh`` present) and ``dnsmasq`` present."""
    caps = {"frr": host.which("vtysh") is not None, "dnsmasq": host.which("dnsmasq") is not None}
    return _area("network", caps)


def _area(name: str, caps: Mapping[str, Any]) -> dict[str, Any]:
    return {name: sorted(k for k, v in caps.items() if v is True), f"{name}_caps": dict(caps)}
