"""``beacons:`` in the minion config: typed beacons, one clear line per mistake."""

from __future__ import annotations

import os
from typing import Any

import pytest

from pvc.errors import ConfigError
from pvc.minion.beacons.checks import SYSTEMD_DIR, DiskCheck, FileCheck, LoadCheck, ProcessCheck
from pvc.minion.beacons.config import Beacon, parse_beacons


def test_every_check_parses() -> None:
    beacons = parse_beacons({
        "root": {"disk": {"path": "/", "max_percent": 90}, "interval": 30},
        "load": {"load": {"max": 8, "average": "5m"}},
        "mon": {"process": {"pid_file": "/run/ceph/mon.pid"}},
        "hosts": {"file": {"path": "/etc/hosts"}, "interval": 0.5},
    })
    assert beacons == (Beacon("root", 30.0, DiskCheck("/", 90)), Beacon("load", 10.0, LoadCheck(8.0, "5m")),
                       Beacon("mon", 10.0, ProcessCheck(pid_file="/run/ceph/mon.pid")),
                       Beacon("hosts", 0.5, FileCheck("/etc/hosts")))


@pytest.mark.parametrize(("raw", "message"), [
    ({"a/b": {"load": {"max": 1}}}, "minion: beacons.a/b: a beacon name is letters"),
    ({"x": "load"}, "beacons.x: expected {CHECK: {...}, interval: SECONDS}"),
    ({"x": {"interval": 5}}, "beacons.x: give exactly one check, one of load, memory, disk"),
    ({"x": {"load": {"max": 1}, "disk": {"path": "/", "max_percent": 1}}}, "give exactly one check"),
    ({"x": {"cpu": {"max": 1}}}, "(got cpu)"),
    ({"x": {"load": {"max": 1}, "interval": 0}}, "interval must be between 0.1 and 86400 seconds"),
    ({"x": {"load": {"max": 1}, "interval": "often"}}, "option 'interval' must be a number"),
    ({"x": {"load": {"max": 1, "average": "2m"}}}, "beacons.x.load: average must be one of 1m, 5m, 15m"),
    ({"x": {"load": {}}}, "beacons.x.load: option 'max' is required"),
    ({"x": {"disk": {"path": "var", "max_percent": 5}}}, "path must be absolute"),
    ({"x": {"memory": {"max_percent": 120}}}, "max_percent must be between 0 and 100"),
    ({"x": {"process": {}}}, "give exactly one of name (a process name) or pid_file"),
    ({"x": {"process": {"name": "a", "pid_file": "/a"}}}, "give exactly one of name"),
    ({"x": {"service": {"name": "a b"}}}, "name must be a systemd unit name"),
    ({"x": {"file": {"path": "/etc/hosts", "mode": 1}}}, "beacons.x.file: option 'mode' is unknown"),
])
def test_bad_config_is_one_clear_line(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_beacons(raw)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.skipif(os.path.isdir(SYSTEMD_DIR), reason="systemd runs here: a service beacon is valid")
def test_a_service_beacon_without_systemd_names_it_and_the_way_out() -> None:
    with pytest.raises(ConfigError, match=r"beacons.x.service: systemd is not running on this host "
                                          r"\(no /run/systemd/system\): watch libvirtd with process"):
        parse_beacons({"x": {"service": {"name": "libvirtd"}}})


def test_minion_config_carries_the_section(tmp_path: Any) -> None:
    from pvc.config import load_minion

    (tmp_path / "minion").write_text("id: m1\nbeacons:\n  root: {disk: {path: /, max_percent: 95}}\n")
    assert parse_beacons(load_minion(tmp_path).beacons)[0].check == DiskCheck("/", 95)
