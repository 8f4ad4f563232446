"""Read back from a domain's XML what the module reports: disks, NICs, serial log file.

Pure functions of the XML text, so they work for domains defined from raw XML as well as from a
typed spec, and are tested without a daemon.

Example::

    devices(xml) == {"disks": ["vda"], "nics": ["vnet0"], "serial_log": "/var/log/pvc/console/vm1.log"}
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from pvc.virt.domain import MIGRATION_METHODS, PVC_XMLNS, check_choice
from pvc.virt.errors import InvalidDomainSpec


def parse(xml: str) -> ET.Element:
    try:
        return ET.fromstring(xml)
    except ET.ParseError as exc:
        raise InvalidDomainSpec(f"virt: domain XML is not well-formed: {exc}") from None


def devices(xml: str) -> dict[str, Any]:
    """Disk targets, NIC device names (only set while running) and their bridges, serial log path."""
    root = parse(xml)
    disks = [t.get("dev") for t in root.findall("./devices/disk/target") if t.get("dev")]
    nics = []
    for iface in root.findall("./devices/interface"):
        target, source, mac = iface.find("target"), iface.find("source"), iface.find("mac")
        nics.append({
            "dev": target.get("dev") if target is not None else None,
            "bridge": source.get("bridge") if source is not None else None,
            "mac": mac.get("address") if mac is not None else None,
        })
    log = root.find("./devices/serial[@type='file']/source")
    return {"disks": disks, "nics": nics, "serial_log": log.get("path") if log is not None else None}


def with_uuid(root: ET.Element, uuid: str) -> str:
    """Domain XML of ``root`` (which has no ``<uuid>``) with ``uuid`` added after its ``<name>``."""
    element = ET.Element("uuid")
    element.text = uuid
    tags = [child.tag for child in root]
    root.insert(tags.index("name") + 1 if "name" in tags else 0, element)
    return ET.tostring(root, encoding="unicode")


def migration_method(xml: str) -> str:
    """The VM's migration policy from its pvc metadata (the default when it has none); a value
    that is not a known policy is an error, never silently replaced."""
    found = parse(xml).find(f"./metadata/{{{PVC_XMLNS}}}vm/{{{PVC_XMLNS}}}migration")
    if found is None:
        return MIGRATION_METHODS[0]
    return check_choice("the migration method in the VM's metadata", found.get("method"), MIGRATION_METHODS)


def tail(path: str, lines: int, max_bytes: int = 1 << 20) -> list[str]:
    """The last ``lines`` lines of a text file, reading at most ``max_bytes`` from its end."""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - max_bytes))
        data = fh.read()
    found = data.decode("utf-8", "replace").replace("\r", "").splitlines()
    if size > max_bytes:
        found = found[1:]  # the first line read is cut
    return found[-lines:] if lines > 0 else []
