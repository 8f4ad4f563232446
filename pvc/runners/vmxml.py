"""What placement needs from a libvirt domain XML: name, memory (MiB) and vCPUs. Pure.

Runners do not import the libvirt adapter (no libvirt on the master), so this reads the few
fields itself, with the standard library's expat parser (no external entities or DTD fetches)
and a size bound before parsing.

>>> demand("<domain><name>vm1</name><memory unit='GiB'>2</memory><vcpu>3</vcpu></domain>")
DomainSize(name='vm1', memory=2048, vcpus=3)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from pvc.runners.errors import DefinitionError

MAX_XML = 1024 * 1024
# libvirt's memory units as multiples of one byte (its default unit is KiB)
_UNITS = {"b": 1, "bytes": 1, "kb": 1000, "k": 1024, "kib": 1024, "mb": 1000**2, "m": 1024**2,
          "mib": 1024**2, "gb": 1000**3, "g": 1024**3, "gib": 1024**3, "tb": 1000**4, "t": 1024**4,
          "tib": 1024**4}


@dataclass(frozen=True)
class DomainSize:
    name: str
    memory: int  # MiB, rounded up
    vcpus: int


def parse(xml: str) -> ET.Element:
    if len(xml) > MAX_XML:
        raise DefinitionError(f"domain XML of {len(xml)} characters exceeds {MAX_XML}")
    if "<!DOCTYPE" in xml or "<!ENTITY" in xml:
        raise DefinitionError("domain XML must not carry a DOCTYPE or entities")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise DefinitionError(f"domain XML does not parse: {exc}") from None
    if root.tag != "domain":
        raise DefinitionError(f"not a libvirt domain: root element <{root.tag}>")
    return root


def demand(xml: str) -> DomainSize:
    """Name, memory (MiB, from ``<memory>``) and vCPUs (``<vcpu>``) of a domain XML."""
    root = parse(xml)
    name = (root.findtext("name") or "").strip()
    if not name:
        raise DefinitionError("domain XML has no <name>")
    mem = root.find("memory")
    if mem is None or not (mem.text or "").strip().isdigit():
        raise DefinitionError(f"domain {name}: no <memory> amount")
    unit = _UNITS.get((mem.get("unit") or "KiB").lower())
    if unit is None:
        raise DefinitionError(f"domain {name}: unknown memory unit {mem.get('unit')!r}")
    vcpu = (root.findtext("vcpu") or "1").strip()
    if not vcpu.isdigit() or int(vcpu) < 1:
        raise DefinitionError(f"domain {name}: <vcpu> must be a positive number, got {vcpu!r}")
    mib = -(-int((mem.text or "0").strip()) * unit // 1024**2)
    return DomainSize(name, mib, int(vcpu))


def rbd_images(xml: str) -> list[tuple[str, str]]:
    """``(pool, image)`` of every RBD disk (``<source protocol='rbd' name='pool/image'>``): the
    locks a fencer breaks before the VM starts elsewhere.

    >>> rbd_images("<domain><devices><disk type='network'><source protocol='rbd' name='vms/vm1-d0'/></disk>"
    ...            "</devices></domain>")
    [('vms', 'vm1-d0')]
    """
    found = []
    for source in parse(xml).iterfind("devices/disk/source"):
        name = source.get("name") or ""
        if (source.get("protocol") or "").lower() == "rbd" and name.count("/") == 1:
            pool, image = name.split("/")
            if pool and image:
                found.append((pool, image))
    return found
