"""Reading devices and the serial log back from domain XML (pure; no daemon)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pvc.virt.errors import InvalidDomainSpec
from pvc.virt.facts import devices, parse, tail, with_uuid

XML = """<domain><devices>
  <disk><target dev='vda'/></disk>
  <interface type='bridge'><source bridge='br0'/><target dev='vnet3'/><mac address='52:54:00:aa:bb:cc'/></interface>
  <serial type='file'><source path='/log/vm1.log' append='on'/></serial>
</devices></domain>"""


def test_devices() -> None:
    assert devices(XML) == {"disks": ["vda"], "serial_log": "/log/vm1.log",
                            "nics": [{"dev": "vnet3", "bridge": "br0", "mac": "52:54:00:aa:bb:cc"}]}
    assert devices("<domain/>") == {"disks": [], "nics": [], "serial_log": None}


def test_with_uuid_goes_after_the_name() -> None:
    xml = with_uuid(parse("<domain><name>vm1</name><memory>1</memory></domain>"), "u-1")
    assert xml == "<domain><name>vm1</name><uuid>u-1</uuid><memory>1</memory></domain>"


def test_bad_xml() -> None:
    with pytest.raises(InvalidDomainSpec, match="not well-formed"):
        parse("<domain>")


def test_tail(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_bytes(b"".join(b"line %d\r\n" % i for i in range(100)))
    assert tail(str(log), 3) == ["line 97", "line 98", "line 99"]
    assert tail(str(log), 2, max_bytes=12) == ["line 99"]  # a line cut by max_bytes is left out
    assert tail(str(log), 0) == []
