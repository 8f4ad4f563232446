"""The ``virtual`` grain: is this minion a physical machine, a VM (which hypervisor) or a container?

Read from files only (no ``virt-what``/``systemd-detect-virt`` processes). The innermost layer
wins, as in Salt: a container on a VM is ``container`` (with ``virtual_subtype`` naming the
engine). VMs are recognised by DMI vendor strings, then ``/sys/hypervisor/type``, then the
paravirtual clock the guest kernel offers (Firecracker and other DMI-less KVM guests expose
only ``kvm-clock``). A CPU that reports the ``hypervisor`` flag with none of those signs is
``vm-other`` (systemd-detect-virt's word); everything else is ``physical``.

Example::

    detect(Host())               # {"virtual": "kvm"} on a KVM guest
"""

from __future__ import annotations

from typing import Any

from pvc.grains.hardware import parse_cpuinfo
from pvc.grains.host import Host

# Substrings of DMI vendor/product strings -> hypervisor name (Salt's spelling).
DMI_SIGNS = (
    ("QEMU", "kvm"), ("KVM", "kvm"), ("OpenStack", "kvm"), ("Google", "kvm"),
    ("VMware", "VMware"), ("VirtualBox", "VirtualBox"), ("innotek", "VirtualBox"),
    ("Virtual Machine", "HyperV"), ("Xen", "xen"), ("Parallels", "Parallels"), ("Bochs", "kvm"),
)
DMI_FILES = ("sys_vendor", "product_name", "bios_vendor", "board_vendor")
CLOCK_SIGNS = (("kvm-clock", "kvm"), ("xen", "xen"), ("hyperv_clocksource", "HyperV"))
# /run/systemd/container or container= values, and /proc/1/cgroup path parts -> engine name.
CONTAINER_NAMES = {
    "docker": "Docker", "lxc": "LXC", "lxc-libvirt": "LXC", "podman": "Podman", "libpod": "Podman",
    "systemd-nspawn": "systemd-nspawn", "kubepods": "Kubernetes", "containerd": "containerd",
    "oci": "OCI",
}


def detect(host: Host) -> dict[str, Any]:
    """``virtual`` and, for containers, ``virtual_subtype``."""
    engine = container_engine(host)
    if engine:
        return {"virtual": "container", "virtual_subtype": engine}
    return {"virtual": hypervisor(host) or "physical"}


def container_engine(host: Host) -> str | None:
    """The container engine this minion runs under, or None when it is not in a container."""
    for marker in ("/run/systemd/container", "/run/host/container-manager"):
        name = (host.read(marker) or "").strip()
        if name:
            return CONTAINER_NAMES.get(name, name)
    if host.exists("/run/.containerenv"):
        return "Podman"
    cgroup = host.read("/proc/1/cgroup") or ""
    for part in cgroup.replace(":", "/").replace("-", "/").split("/"):
        if part in CONTAINER_NAMES:
            return CONTAINER_NAMES[part]
    # /.dockerenv can outlive the container it was made for (an image booted as a VM keeps it);
    # trust it only when cgroups cannot tell, i.e. under a cgroup-v2 namespace ("0::/").
    if host.exists("/.dockerenv") and cgroup.strip() == "0::/":
        return "Docker"
    return None


def hypervisor(host: Host) -> str | None:
    """The hypervisor this (non-container) minion runs on, or None on bare metal."""
    dmi = " ".join((host.read(f"/sys/class/dmi/id/{name}") or "").strip() for name in DMI_FILES)
    for sign, name in DMI_SIGNS:
        if sign in dmi:
            return name
    if (host.read("/sys/hypervisor/type") or "").strip() == "xen":
        return "xen"
    clocks = host.read("/sys/devices/system/clocksource/clocksource0/available_clocksource") or ""
    for sign, name in CLOCK_SIGNS:
        if sign in clocks:
            return name
    flags = parse_cpuinfo(host.read("/proc/cpuinfo") or "").get("flags", "").split()
    return "vm-other" if "hypervisor" in flags else None
