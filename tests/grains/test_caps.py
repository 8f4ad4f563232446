"""Capability grains (virt, storage, network) on a fake root and on this machine."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pvc.grains.caps import QEMU_ARCH, libvirt_version, network_grains, virt_grains
from pvc.grains.host import LIB_DIRS, Host
from tests.grains.trees import make_host

MACHINE = os.uname().machine


def test_libvirt_version_from_library_name() -> None:
    assert libvirt_version("libvirt.so.0.9000.0") == "9.0.0"
    assert libvirt_version("libvirt.so.0.10002.3") == "10.2.3"
    assert libvirt_version("libvirt.so.0") is None
    assert libvirt_version(None) is None


def _hypervisor_root(tmp_path: Path, kvm: bool) -> Host:
    files = {f"/usr/bin/qemu-system-{QEMU_ARCH.get(MACHINE, MACHINE)}": "", "/usr/sbin/virtqemud": "",
             "/usr/bin/vtysh": "", f"{LIB_DIRS[0]}/libvirt.so.0.10000.0": ""}
    if kvm:
        files["/dev/kvm"] = ""
    host = make_host(tmp_path, files)
    for name in ("usr/bin/qemu-system-" + QEMU_ARCH.get(MACHINE, MACHINE), "usr/sbin/virtqemud", "usr/bin/vtysh"):
        (tmp_path / name).chmod(0o755)
    (tmp_path / LIB_DIRS[0].lstrip("/") / "libvirt.so.0").symlink_to("libvirt.so.0.10000.0")
    return host


def test_full_hypervisor_node(tmp_path: Path) -> None:
    grains = virt_grains(_hypervisor_root(tmp_path, kvm=True))
    assert grains == {
        "virt": ["kvm", "libvirt", "libvirtd", "qemu"],
        "virt_caps": {"kvm": True, "qemu": True, "libvirt": True, "libvirtd": True,
                      "libvirt_version": "10.0.0", "hypervisor": "kvm"},
    }
    assert network_grains(Host(str(tmp_path))) == {"network": ["frr"],
                                                   "network_caps": {"frr": True, "dnsmasq": False}}


def test_tcg_only_node(tmp_path: Path) -> None:
    grains = virt_grains(_hypervisor_root(tmp_path, kvm=False))
    assert grains["virt"] == ["libvirt", "libvirtd", "qemu"]
    assert grains["virt_caps"]["hypervisor"] == "qemu"


def test_bare_node(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin")
    grains = virt_grains(make_host(tmp_path, {}))
    assert grains["virt"] == [] and grains["virt_caps"]["hypervisor"] is None
    assert grains["virt_caps"]["libvirt_version"] is None


def _can_open_kvm() -> bool:
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError:
        return False
    return True


def test_this_machine() -> None:
    grains = virt_grains(Host())
    caps = grains["virt_caps"]
    assert caps["kvm"] is _can_open_kvm()
    assert caps["qemu"] is (shutil.which(f"qemu-system-{QEMU_ARCH.get(MACHINE, MACHINE)}",
                                         path=os.environ.get("PATH", "") + ":/usr/bin:/usr/sbin") is not None)
    assert grains["virt"] == sorted(k for k, v in caps.items() if v is True)


def test_libvirt_version_agrees_with_pkg_config() -> None:
    if shutil.which("pkg-config") is None:
        pytest.fail("pkg-config is missing: scripts/setup.d/00-base.sh installs it")
    probe = subprocess.run(["pkg-config", "--modversion", "libvirt"], capture_output=True, text=True, check=False)
    if probe.returncode:
        pytest.fail("libvirt-dev is missing: scripts/setup.d/00-base.sh installs it")
    assert virt_grains(Host())["virt_caps"]["libvirt_version"] == probe.stdout.strip()
