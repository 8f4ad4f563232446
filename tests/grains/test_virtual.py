"""The virtual grain on fake machine roots (one per kind) and on this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from pvc.grains.host import Host
from pvc.grains.virtual import detect
from tests.grains.trees import make_host

CPU_VM = "processor\t: 0\nflags\t\t: fpu vme hypervisor lahf_lm\n"
CPU_METAL = "processor\t: 0\nflags\t\t: fpu vme svm lahf_lm\n"
CLOCKS = "/sys/devices/system/clocksource/clocksource0/available_clocksource"


@pytest.mark.parametrize(("files", "expected"), [
    ({"/proc/cpuinfo": CPU_METAL, "/sys/class/dmi/id/sys_vendor": "Dell Inc.\n"}, {"virtual": "physical"}),
    ({"/proc/cpuinfo": CPU_VM, "/sys/class/dmi/id/sys_vendor": "QEMU\n"}, {"virtual": "kvm"}),
    ({"/proc/cpuinfo": CPU_VM, "/sys/class/dmi/id/product_name": "VMware Virtual Platform\n"},
     {"virtual": "VMware"}),
    ({"/proc/cpuinfo": CPU_VM, CLOCKS: "tsc kvm-clock \n"}, {"virtual": "kvm"}),  # Firecracker: no DMI
    ({"/proc/cpuinfo": CPU_VM, "/sys/hypervisor/type": "xen\n"}, {"virtual": "xen"}),
    ({"/proc/cpuinfo": CPU_VM}, {"virtual": "vm-other"}),
    ({"/run/systemd/container": "lxc\n", CLOCKS: "kvm-clock"}, {"virtual": "container", "virtual_subtype": "LXC"}),
    ({"/run/.containerenv": ""}, {"virtual": "container", "virtual_subtype": "Podman"}),
    ({"/proc/1/cgroup": "12:pids:/docker/0123abcd\n0::/docker/0123abcd\n"},
     {"virtual": "container", "virtual_subtype": "Docker"}),
    ({"/proc/1/cgroup": "0::/kubepods/burstable/pod1/abc\n"},
     {"virtual": "container", "virtual_subtype": "Kubernetes"}),
    ({"/.dockerenv": "", "/proc/1/cgroup": "0::/\n"}, {"virtual": "container", "virtual_subtype": "Docker"}),
    # an image booted as a VM keeps its /.dockerenv; cgroup v1 paths at the root say "no container"
    ({"/.dockerenv": "", "/proc/1/cgroup": "4:memory:/\n0::/\n", CLOCKS: "kvm-clock"}, {"virtual": "kvm"}),
])
def test_detect(tmp_path: Path, files: dict, expected: dict) -> None:
    assert detect(make_host(tmp_path, files)) == expected


def test_this_machine() -> None:
    grains = detect(Host())
    assert grains["virtual"] in {"physical", "kvm", "xen", "VMware", "VirtualBox", "HyperV", "Parallels",
                                 "vm-other", "container"}
    assert ("virtual_subtype" in grains) == (grains["virtual"] == "container")
