"""collect(): every probe on this machine, fast, JSON/msgpack-able, never raising; custom grains on top."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest

from pvc import __version__
from pvc.config import MinionConfig, load_minion
from pvc.grains import collect, probe_all
from pvc.grains.host import Host

AREAS = ("virt", "storage", "network")


def test_this_machine_has_every_grain() -> None:
    grains = collect(MinionConfig(id="node7"))
    for name in ("os", "os_family", "osrelease", "oscodename", "kernel", "kernelrelease", "cpuarch",
                 "num_cpus", "cpus", "mem_total", "host", "hostname", "fqdn", "ipv4", "virtual",
                 *AREAS, *(f"{a}_caps" for a in AREAS)):
        assert name in grains, name
    assert grains["id"] == "node7" and grains["pvc_version"] == __version__
    assert grains["os"] == "Debian" and grains["os_family"] == "Debian"  # the project's target platform
    for area in AREAS:
        caps = grains[f"{area}_caps"]
        assert grains[area] == sorted(k for k, v in caps.items() if v is True)
    assert json.loads(json.dumps(grains)) == grains
    assert msgpack.unpackb(msgpack.packb(grains)) == grains


def test_fast() -> None:
    config = MinionConfig(id="fast")
    best = min(_timed(lambda: collect(config)) for _ in range(3))
    assert best < 0.05, f"grain collection took {best * 1000:.1f} ms"


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_custom_grains_merge_on_top() -> None:
    custom: dict[str, Any] = {"roles": ["hv"], "os": "Mine", "virt_caps": {"rack": 4}, "id": "spoofed"}
    grains = collect(MinionConfig(id="node8", grains=custom))
    assert grains["roles"] == ["hv"] and grains["os"] == "Mine"
    assert grains["virt_caps"]["rack"] == 4 and "kvm" in grains["virt_caps"]
    assert grains["id"] == "node8"  # the minion id is not a custom grain
    grains["virt_caps"]["rack"] = 5
    assert custom["virt_caps"]["rack"] == 4  # the config is not shared with the result


def test_a_failing_probe_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    def broken(host: Host) -> dict:
        raise OSError("boom")

    def fine(host: Host) -> dict:
        return {"ok": 1}

    with caplog.at_level(logging.DEBUG, logger="pvc.grains"):
        assert probe_all(Host(), (broken, fine)) == {"ok": 1}
    assert "grain probe broken failed" in caplog.text


def test_an_empty_root_never_raises(tmp_path: Path) -> None:
    grains = collect(MinionConfig(id="bare"), host=Host(str(tmp_path / "nothing-here")))
    assert grains["id"] == "bare" and grains["kernel"] == "Linux"
    assert "os" not in grains and grains["virtual"] == "physical"


def test_custom_grains_from_a_config_file(tmp_path: Path) -> None:
    (tmp_path / "minion").write_text("id: filed\nroot_dir: .\ngrains:\n  roles: [hv, web]\n  rack: {row: 2}\n")
    grains = collect(load_minion(tmp_path))
    assert grains["roles"] == ["hv", "web"] and grains["rack"] == {"row": 2}
    assert msgpack.unpackb(msgpack.packb(grains)) == grains
