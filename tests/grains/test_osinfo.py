"""OS grains from os-release fixture files of several distributions."""

from __future__ import annotations

from pathlib import Path

import pytest

from pvc.grains.osinfo import os_grains, parse_os_release
from tests.grains.trees import make_host

FIXTURES = Path(__file__).parent / "fixtures" / "os-release"


@pytest.mark.parametrize(("fixture", "expected"), [
    ("debian12", {"os": "Debian", "os_family": "Debian", "osrelease": "12", "osmajorrelease": 12,
                  "oscodename": "bookworm", "osfinger": "Debian-12", "osfullname": "Debian GNU/Linux"}),
    ("ubuntu2204", {"os": "Ubuntu", "os_family": "Debian", "osrelease": "22.04", "osmajorrelease": 22,
                    "oscodename": "jammy", "osfinger": "Ubuntu-22.04", "osfullname": "Ubuntu"}),
    ("rocky9", {"os": "Rocky", "os_family": "RedHat", "osrelease": "9.3", "osmajorrelease": 9,
                "oscodename": "", "osfinger": "Rocky-9", "osfullname": "Rocky Linux"}),
    # unknown ID: the display NAME, the family from ID_LIKE; a broken line is skipped
    ("proxmox-like", {"os": "Homegrown Linux", "os_family": "Debian", "osrelease": "3", "osmajorrelease": 3,
                      "oscodename": "", "osfinger": "Homegrown Linux-3", "osfullname": "Homegrown Linux"}),
])
def test_os_grains(tmp_path: Path, fixture: str, expected: dict) -> None:
    host = make_host(tmp_path, {"/etc/os-release": (FIXTURES / fixture).read_text()})
    assert os_grains(host) == expected


def test_usr_lib_fallback_and_absent(tmp_path: Path) -> None:
    host = make_host(tmp_path / "a", {"/usr/lib/os-release": "ID=debian\nVERSION_ID=12\n"})
    assert os_grains(host)["os"] == "Debian"
    assert os_grains(make_host(tmp_path / "b", {})) == {}


def test_parse_quoting() -> None:
    assert parse_os_release("A='x y'\nB=\"q\\\"z\"\n#C=1\nnoequals\nD=\n") == {"A": "x y", "B": 'q"z', "D": ""}
