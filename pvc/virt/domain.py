"""A typed VM spec and the libvirt domain XML built from it (``xml.etree``, never string pasting).

Operators give the spec as plain data; short forms keep the common case short: a disk is a path
("/var/lib/pvc/vm1.qcow2") or an RBD "pool/image", a NIC is a bridge name. The guest gets no
``<cpu>`` element (QEMU's default model), which is the migration-safe choice and the only one that
works on nested hosts; its serial port is logged to ``<console_dir>/<name>.log`` (append, so the
log survives live migrations between nodes that share the directory). The VM's migration policy
travels with it in the domain's ``<metadata>`` (see :data:`MIGRATION_METHODS`).

Example::

    spec = parse_spec({"name": "vm1", "vcpus": 2, "memory": 512, "disks": ["vms/vm1"], "nics": ["br0"]})
    xml = domain_xml(spec, console_dir="/var/log/pvc/console")
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pvc.errors import ConfigError
from pvc.typedconf import build
from pvc.virt.errors import InvalidDomainSpec

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_DOMAIN_TYPES = ("kvm", "qemu")
EMULATOR = "/usr/bin/qemu-system-x86_64"
PVC_XMLNS = "urn:pvc:vm:1"
# How a VM may move to another node: "live" only (never stop it), shut it down and start it on the
# target ("shutdown"), or try live first and fall back to that ("live-or-shutdown", the default).
MIGRATION_METHODS = ("live-or-shutdown", "live", "shutdown")
ET.register_namespace("pvc", PVC_XMLNS)


@dataclass(frozen=True)
class Disk:
    """A file image (``file``) or an RBD image (``rbd: pool/image``, with ``monitors`` as host:port)."""

    file: str = ""
    rbd: str = ""
    format: str = ""  # file only; default from the suffix (.qcow2 -> qcow2, else raw)
    monitors: tuple[str, ...] = ()
    auth_user: str = ""
    secret_uuid: str = ""


@dataclass(frozen=True)
class Nic:
    bridge: str
    mac: str = ""
    model: str = "virtio"


@dataclass(frozen=True)
class VmSpec:
    """What ``virt.define`` builds a domain from. ``memory`` is in MiB. ``kernel``/``initrd`` boot a
    kernel directly (no disk needed); ``type`` is "kvm" or "qemu" (TCG, no hardware acceleration);
    ``migration`` is the VM's migration policy, one of :data:`MIGRATION_METHODS`. Without ``uuid``
    libvirt picks one (or keeps the existing VM's)."""

    name: str
    vcpus: int = 1
    memory: int = 1024
    disks: tuple[Disk, ...] = ()
    nics: tuple[Nic, ...] = ()
    uuid: str = ""
    type: str = "kvm"
    machine: str = "pc"
    kernel: str = ""
    initrd: str = ""
    cmdline: str = ""
    migration: str = "live-or-shutdown"


def check_name(name: object) -> str:
    """Return ``name`` if it is a safe domain name (it ends up in file paths and event tags)."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name:
        raise InvalidDomainSpec(
            f"virt: domain name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def parse_spec(data: Mapping[str, Any]) -> VmSpec:
    """Validate operator data into a :class:`VmSpec` (short forms for disks and NICs accepted)."""
    data = dict(data)
    data["disks"] = [_disk_form(d) for d in data.get("disks") or ()]
    data["nics"] = [{"bridge": n} if isinstance(n, str) else n for n in data.get("nics") or ()]
    try:
        spec = build(VmSpec, data, where="virt.define")
    except ConfigError as exc:
        raise InvalidDomainSpec(str(exc)) from None
    check_name(spec.name)
    check_choice("type", spec.type, _DOMAIN_TYPES)
    check_choice("migration", spec.migration, MIGRATION_METHODS)
    if spec.vcpus < 1 or spec.memory < 16:
        raise InvalidDomainSpec("virt.define: vcpus must be >= 1 and memory >= 16 (MiB)")
    for disk in spec.disks:
        if bool(disk.file) == bool(disk.rbd):
            raise InvalidDomainSpec("virt.define: each disk needs exactly one of 'file' or 'rbd'")
    if len(spec.disks) > 26:
        raise InvalidDomainSpec("virt.define: at most 26 disks (vda..vdz)")
    return spec


def check_choice(what: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidDomainSpec(f"virt: {what} must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _disk_form(disk: Any) -> Any:
    if isinstance(disk, str):
        return {"file": disk} if disk.startswith("/") else {"rbd": disk}
    return disk


def serial_log_path(console_dir: str, name: str) -> str:
    return os.path.join(console_dir, f"{check_name(name)}.log")


def domain_xml(spec: VmSpec, console_dir: str) -> str:
    """The domain XML for ``spec``; the serial console is appended to ``<console_dir>/<name>.log``."""
    dom = ET.Element("domain", type=spec.type)
    _text(dom, "name", spec.name)
    if spec.uuid:
        _text(dom, "uuid", spec.uuid)
    metadata = ET.SubElement(ET.SubElement(dom, "metadata"), f"{{{PVC_XMLNS}}}vm")
    ET.SubElement(metadata, f"{{{PVC_XMLNS}}}migration", method=spec.migration)
    _text(dom, "memory", str(spec.memory), unit="MiB")
    _text(dom, "vcpu", str(spec.vcpus))
    os_el = ET.SubElement(dom, "os")
    _text(os_el, "type", "hvm", arch="x86_64", machine=spec.machine)
    if spec.kernel:
        _text(os_el, "kernel", spec.kernel)
        if spec.initrd:
            _text(os_el, "initrd", spec.initrd)
        _text(os_el, "cmdline", spec.cmdline or "console=ttyS0")
    else:
        ET.SubElement(os_el, "boot", dev="hd")
    ET.SubElement(ET.SubElement(dom, "features"), "acpi")
    for event, action in (("on_poweroff", "destroy"), ("on_reboot", "restart"), ("on_crash", "destroy")):
        _text(dom, event, action)
    devices = ET.SubElement(dom, "devices")
    _text(devices, "emulator", EMULATOR)
    for index, disk in enumerate(spec.disks):
        _disk(devices, disk, f"vd{chr(ord('a') + index)}")
    for nic in spec.nics:
        _nic(devices, nic)
    serial = ET.SubElement(devices, "serial", type="file")
    ET.SubElement(serial, "source", path=serial_log_path(console_dir, spec.name), append="on")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")
    ET.SubElement(devices, "memballoon", model="none")
    return ET.tostring(dom, encoding="unicode")


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    el.text = text
    return el


def _disk(devices: ET.Element, disk: Disk, target: str) -> None:
    if disk.file:
        fmt = disk.format or ("qcow2" if disk.file.endswith(".qcow2") else "raw")
        el = ET.SubElement(devices, "disk", type="file", device="disk")
        ET.SubElement(el, "driver", name="qemu", type=fmt, cache="none")
        ET.SubElement(el, "source", file=disk.file)
    else:
        el = ET.SubElement(devices, "disk", type="network", device="disk")
        ET.SubElement(el, "driver", name="qemu", type="raw", cache="none")
        source = ET.SubElement(el, "source", protocol="rbd", name=disk.rbd)
        for mon in disk.monitors:
            host, _, port = mon.partition(":")
            ET.SubElement(source, "host", name=host, port=port or "6789")
        if disk.auth_user:
            auth = ET.SubElement(el, "auth", username=disk.auth_user)
            ET.SubElement(auth, "secret", type="ceph", uuid=disk.secret_uuid)
    ET.SubElement(el, "target", dev=target, bus="virtio")


def _nic(devices: ET.Element, nic: Nic) -> None:
    el = ET.SubElement(devices, "interface", type="bridge")
    ET.SubElement(el, "source", bridge=nic.bridge)
    ET.SubElement(el, "model", type=nic.model)
    if nic.mac:
        ET.SubElement(el, "mac", address=nic.mac)
