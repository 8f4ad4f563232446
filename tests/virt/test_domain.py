"""Typed VM spec -> domain XML (pure; no daemon)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from pvc.virt.domain import domain_xml, parse_spec
from pvc.virt.errors import InvalidDomainSpec
from pvc.virt.facts import migration_method


def test_short_forms_and_full_xml() -> None:
    spec = parse_spec({"name": "vm1", "vcpus": 2, "memory": 512, "uuid": "0f0f0f0f-0000-4000-8000-000000000001",
                       "disks": ["/img/a.qcow2", {"rbd": "vms/b", "monitors": ["10.0.0.1:6789", "10.0.0.2"],
                                                  "auth_user": "libvirt", "secret_uuid": "s-1"}],
                       "nics": ["br0", {"bridge": "br1", "mac": "52:54:00:00:00:01"}]})
    root = ET.fromstring(domain_xml(spec, "/var/log/pvc/console"))
    assert root.get("type") == "kvm" and root.findtext("name") == "vm1" and root.findtext("vcpu") == "2"
    assert root.find("memory").attrib == {"unit": "MiB"} and root.findtext("memory") == "512"
    assert root.findtext("uuid") == spec.uuid and root.find("cpu") is None
    disks = root.findall("devices/disk")
    assert [d.find("target").get("dev") for d in disks] == ["vda", "vdb"]
    assert disks[0].find("driver").get("type") == "qcow2" and disks[0].find("source").get("file") == "/img/a.qcow2"
    assert [(h.get("name"), h.get("port")) for h in disks[1].findall("source/host")] == [
        ("10.0.0.1", "6789"), ("10.0.0.2", "6789")]
    assert disks[1].find("auth/secret").get("uuid") == "s-1"
    nics = root.findall("devices/interface")
    assert [(i.find("source").get("bridge"), i.find("model").get("type")) for i in nics] == [
        ("br0", "virtio"), ("br1", "virtio")]
    assert nics[0].find("mac") is None and nics[1].find("mac").get("address") == "52:54:00:00:00:01"
    serial = root.find("devices/serial/source")
    assert serial.attrib == {"path": "/var/log/pvc/console/vm1.log", "append": "on"}
    assert migration_method(domain_xml(spec, "/c")) == "live-or-shutdown"


def test_migration_policy_travels_in_the_metadata() -> None:
    xml = domain_xml(parse_spec({"name": "vm1", "migration": "live"}), "/c")
    assert "<pvc:migration" in xml and "<uuid>" not in xml  # libvirt picks (or keeps) the UUID
    assert migration_method(xml) == "live"
    assert migration_method("<domain/>") == "live-or-shutdown"
    with pytest.raises(InvalidDomainSpec, match="migration method in the VM's metadata"):
        migration_method(xml.replace('method="live"', 'method="teleport"'))


def test_direct_kernel_boot_under_tcg() -> None:
    root = ET.fromstring(domain_xml(parse_spec({"name": "k", "type": "qemu", "kernel": "/k", "initrd": "/i"}), "/c"))
    assert root.get("type") == "qemu" and root.findtext("os/kernel") == "/k" and root.findtext("os/cmdline")
    assert root.find("os/boot") is None


@pytest.mark.parametrize("data, message", [
    ({"name": "a/b"}, "not allowed"),
    ({"name": "vm", "type": "xen"}, "type must be"),
    ({"name": "vm", "migration": "maybe"}, "migration must be"),
    ({"name": "vm", "memory": 1}, "memory"),
    ({"name": "vm", "colour": "red"}, "unknown"),
    ({"name": "vm", "disks": [{}]}, "exactly one"),
])
def test_bad_specs(data: dict, message: str) -> None:
    with pytest.raises(InvalidDomainSpec, match=message):
        parse_spec(data)
