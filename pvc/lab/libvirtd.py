"""Each node's own libvirtd: its config files, its directories, and the shared QEMU caps cache.

A privileged libvirtd hard-codes /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt
and /var/log/libvirt; the node's init bind-mounts the node's own directories over them inside the
node's mount namespace (:data:`MOUNTS`). Each daemon gets its own ``host_uuid`` (libvirt refuses
to migrate to "the same host"), listens on the node's address for ``qemu+tcp`` (auth none: the
bridge exists only on this machine), and sends migration streams to the node's address. Its unix
socket lies in the node's directory, so the host reaches it as ``qemu+unix:///system?socket=...``
(which fails at once when the node is off, where tcp would hang for a minute).

The QEMU capabilities cache is seeded from a directory shared with the test fixtures
(:data:`CAPS_CACHE`): without it, the first define on a fresh daemon probes QEMU (~0.7-3.5 s).

Example::

    write_config(node_dir, address="10.213.7.11", host_uuid=uuid4())
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

LIBVIRTD = "/usr/sbin/libvirtd"
TCP_PORT = 16509
CAPS_CACHE = Path(os.environ.get("PVC_VIRT_CAPS_CACHE", "/var/tmp/pvc-virt-caps-cache"))
MOUNTS = {"etc": "/etc/libvirt", "run": "/run/libvirt", "lib": "/var/lib/libvirt",
          "cache": "/var/cache/libvirt", "log": "/var/log/libvirt"}

LIBVIRTD_CONF = """\
unix_sock_group = "root"
unix_sock_rw_perms = "0770"
auth_unix_ro = "none"
auth_unix_rw = "none"
listen_tls = 0
listen_tcp = 1
listen_addr = "{address}"
tcp_port = "{port}"
auth_tcp = "none"
host_uuid = "{host_uuid}"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
"""
# No systemd, udev, AppArmor or cgroups here: those features are off.
QEMU_CONF = """\
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
migration_address = "{address}"
migration_host = "{address}"
"""


def unix_uri(node_dir: Path) -> str:
    return f"qemu+unix:///system?socket={node_dir / 'run' / 'libvirt-sock'}"


def tcp_uri(address: str) -> str:
    return f"qemu+tcp://{address}/system"


def argv() -> list[str]:
    """How the node's init starts it (inside the node, after the bind mounts)."""
    return [LIBVIRTD, "--listen", "-f", "/etc/libvirt/libvirtd.conf", "-p", "/run/libvirt/libvirtd.pid"]


def write_config(node_dir: Path, address: str) -> None:
    """Create the node's libvirt directories and config (host UUID kept across power cycles)."""
    for sub in MOUNTS:
        (node_dir / sub).mkdir(parents=True, exist_ok=True)
    (node_dir / "etc" / "qemu").mkdir(exist_ok=True)
    uuid_file = node_dir / "host_uuid"
    if not uuid_file.exists():
        uuid_file.write_text(f"{uuid.uuid4()}\n")
    host_uuid = uuid_file.read_text().strip()
    (node_dir / "etc" / "libvirtd.conf").write_text(
        LIBVIRTD_CONF.format(address=address, port=TCP_PORT, host_uuid=host_uuid))
    (node_dir / "etc" / "qemu.conf").write_text(QEMU_CONF.format(address=address))
    (node_dir / "etc" / "libvirt.conf").write_text("")
    caps = node_dir / "cache" / "qemu" / "capabilities"
    if CAPS_CACHE.is_dir() and not any(caps.glob("*.xml")):
        shutil.copytree(CAPS_CACHE, caps, dirs_exist_ok=True)
    for target in MOUNTS.values():
        os.makedirs(target, exist_ok=True)  # mount points must exist on the host


def wipe_run(node_dir: Path) -> None:
    """Empty the node's /run/libvirt before each power-on, as a real tmpfs /run would be.

    Why: a surviving domain status file makes the new libvirtd "reconnect" to the previous
    life's QEMU by its namespace-local PID and SIGTERM whatever process of the new namespace
    now has that PID (it killed the minion 0.1 s after power-on in the recipe's runs).
    """
    run = node_dir / "run"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)


def save_caps_cache(node_dir: Path) -> None:
    """Share a node's probed QEMU capabilities with later nodes and labs (when none are cached)."""
    caps = node_dir / "cache" / "qemu" / "capabilities"
    xmls = list(caps.glob("*.xml"))
    if xmls and not (CAPS_CACHE.is_dir() and any(CAPS_CACHE.glob("*.xml"))):
        CAPS_CACHE.mkdir(parents=True, exist_ok=True)
        for xml in xmls:
            shutil.copy2(xml, CAPS_CACHE / xml.name)
