"""Capability grains (virt, storage, network) on a fake root and on this machine."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from pvc.grains.caps import LIBVIRT_SOCKETS, QEMU_ARCH, answering_socket, libvirt_version, network_grains, virt_grains
from pvc.grains.host import LIB_DIRS, Host
from tests.grains.trees import make_host

MACHINE = os.uname().machine


def test_libvirt_version_from_library_name() -> None:
    assert libvirt_version("libvirt.so.0.9000.0") == "9.0.0"
    assert libvirt_version("libvirt.so.0.10002.3") == "10.2.3"
    assert libvirt_version("libvirt.so.0") is None
    assert libvirt_version(None) is None


def _listen(root: Path, path: str) -> socket.socket:
    """A Unix socket listening at ``path`` under ``root`` (a running daemon, as far as a connect sees)."""
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(target))
    sock.listen(8)
    return sock


def _stale(root: Path, path: str) -> None:
    """A socket file nobody listens on: what a crashed or stopped daemon leaves behind."""
    _listen(root, path).close()


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
    host = _hypervisor_root(tmp_path, kvm=True)
    with _listen(tmp_path, LIBVIRT_SOCKETS[0]):
        grains = virt_grains(host)
    assert grains == {
        "virt": ["kvm", "libvirt", "libvirtd", "qemu"],
        "virt_caps": {"kvm": True, "qemu": True, "libvirt": True, "libvirtd": True,
                      "libvirtd_socket": LIBVIRT_SOCKETS[0], "libvirt_version": "10.0.0", "hypervisor": "kvm"},
    }
    assert network_grains(Host(str(tmp_path))) == {"network": ["frr"],
                                                   "network_caps": {"frr": True, "dnsmasq": False}}


def test_tcg_only_node(tmp_path: Path) -> None:
    host = _hypervisor_root(tmp_path, kvm=False)
    with _listen(tmp_path, LIBVIRT_SOCKETS[1]):
        grains = virt_grains(host)
    assert grains["virt"] == ["libvirt", "libvirtd", "qemu"]
    assert grains["virt_caps"]["hypervisor"] == "qemu"
    assert grains["virt_caps"]["libvirtd_socket"] == LIBVIRT_SOCKETS[1]


def test_installed_but_stopped_daemon_is_not_claimed(tmp_path: Path) -> None:
    """The daemon binary is there (virtqemud) but nothing answers: a stale socket file of each
    kind. virt.list could not connect, so the grain must not say libvirtd."""
    host = _hypervisor_root(tmp_path, kvm=True)
    for path in LIBVIRT_SOCKETS:
        _stale(tmp_path, path)
    start = time.perf_counter()
    assert answering_socket(host, timeout=5.0) is None
    assert time.perf_counter() - start < 1.0  # refused at once: no timeout paid
    grains = virt_grains(host)
    assert grains["virt"] == ["kvm", "libvirt", "qemu"]
    assert grains["virt_caps"]["libvirtd"] is False and grains["virt_caps"]["libvirtd_socket"] is None


def test_socket_probe_ignores_what_is_not_a_socket(tmp_path: Path) -> None:
    host = make_host(tmp_path, {LIBVIRT_SOCKETS[0]: "not a socket"})
    (tmp_path / LIBVIRT_SOCKETS[1].lstrip("/")).mkdir()
    assert answering_socket(host) is None


def test_socket_probe_is_bounded_when_the_daemon_does_not_accept(tmp_path: Path) -> None:
    """A wedged daemon (listening, never accepting, backlog full) costs the timeout, not a hang."""
    with _listen(tmp_path, LIBVIRT_SOCKETS[0]) as server:
        server.listen(0)
        held = []
        for _ in range(4):  # fill the backlog with non-blocking connects
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(str(tmp_path / LIBVIRT_SOCKETS[0].lstrip("/")))
            except OSError:
                pass
            held.append(c)
        start = time.perf_counter()
        found = answering_socket(Host(str(tmp_path)), timeout=0.05)
        elapsed = time.perf_counter() - start
        for c in held:
            c.close()
    assert found is None
    assert elapsed < 1.0


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


def test_this_machine_libvirtd_claim_matches_a_connect() -> None:
    """On this machine the grain agrees with a plain connect to the system sockets."""
    answering = None
    for path in LIBVIRT_SOCKETS:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            try:
                sock.connect(path)
            except OSError:
                continue
            answering = path
            break
    caps = virt_grains(Host())["virt_caps"]
    assert caps["libvirtd_socket"] == answering and caps["libvirtd"] is (answering is not None)


def test_libvirt_version_agrees_with_pkg_config() -> None:
    if shutil.which("pkg-config") is None:
        pytest.fail("pkg-config is missing: scripts/setup.d/00-base.sh installs it")
    probe = subprocess.run(["pkg-config", "--modversion", "libvirt"], capture_output=True, text=True, check=False)
    if probe.returncode:
        pytest.fail("libvirt-dev is missing: scripts/setup.d/00-base.sh installs it")
    assert virt_grains(Host())["virt_caps"]["libvirt_version"] == probe.stdout.strip()
