"""The virt module against real libvirtd + QEMU (two isolated instances, see tests/cluster/libvirt.py).

Functions are called through ``MinionFunctions.call`` — the ``pvc call`` code path. Disk-less
128 MiB KVM guests (SeaBIOS spins: the vCPU runs) cover lifecycle and stats; a tiny kernel +
busybox guest under TCG, printing ``tick N`` each second, shows a live migration keeps it running.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pvc.config import MinionConfig
from pvc.minion.functions import MinionFunctions
from tests.cluster.guestkernel import guest_kernel
from tests.cluster.libvirt import LibvirtHost
from tests.cluster.libvirt_fixtures import EventLog, VirtNode
from tests.cluster.wait import wait_for

DISKLESS = {"vcpus": 1, "memory": 128}


def test_down_libvirt_is_a_clear_error_fast() -> None:
    funcs = MinionFunctions(MinionConfig(id="t", modules={"virt": {"uri": "qemu+unix:///system?socket=/nonexistent"}}),
                            grains={})
    start = time.monotonic()
    ret = funcs.call("virt.list")
    assert time.monotonic() - start < 5
    assert not ret.ok and ret.error_type == "BackendUnavailable"
    assert ret.error.startswith("libvirt: cannot connect to qemu+unix:///system?socket=/nonexistent: ")


def test_define_test_mode_returns_xml_and_bad_specs_are_refused() -> None:
    funcs = MinionFunctions(MinionConfig(id="t", modules={"virt": {"uri": "test:///default"}}), grains={})
    ret = funcs.call("virt.define", [], {"name": "vm1", "disks": ["/v/vm1.qcow2", "vms/vm1"], "nics": ["br0"]},
                     test=True)
    assert ret.ok and ret.data["changed"] is False
    xml = ret.data["xml"]
    assert "<source file=\"/v/vm1.qcow2\" />" in xml and 'protocol="rbd" name="vms/vm1"' in xml
    assert '<source bridge="br0" />' in xml and "<cpu" not in xml
    for bad, message in (({"name": "../x"}, "not allowed"), ({"name": "vm1", "vcpus": "two"}, "vcpus"),
                         ({"name": "vm1", "disks": [{"file": "/a", "rbd": "p/i"}]}, "exactly one")):
        ret = funcs.call("virt.define", [], bad, test=True)
        assert not ret.ok and ret.error_type == "InvalidDomainSpec" and message in ret.error, ret


def test_kvm_lifecycle_stats_and_events(virt_node: Callable[..., VirtNode]) -> None:
    node = virt_node("h1", shutdown_timeout=0.5)
    defined = node.call("virt.define", name="life", **DISKLESS)
    assert node.call("virt.list") == [{"name": "life", "uuid": defined["uuid"], "state": "shutoff", "vcpus": 1,
                                       "memory": 128, "node": "h1"}]
    assert node.call("virt.start", "life")["state"] == "running"
    assert node.call("virt.start", "life")["changed"] is False
    node.events.wait("pvc/vm/life/started")
    stats = node.call("virt.stats", "life")
    assert stats["cpu_time_ns"] > 0 and stats["disks"] == {} and stats["nics"] == {}
    info = node.call("virt.info", "life")
    assert info["state"] == "running" and info["persistent"] and info["serial_log"].endswith("/life.log")
    # a guest without an OS ignores ACPI: without force the timeout is an error, with force it is destroyed
    ret = node.call_ret("virt.shutdown", "life")
    assert not ret.ok and ret.error_type == "CommandTimeout" and "force=True" in ret.error
    assert node.call("virt.shutdown", "life", force=True)["how"] == "destroyed"
    assert node.events.wait("pvc/vm/life/stopped")["node"] == "h1"
    node.call("virt.start", "life")
    assert node.call("virt.destroy", "life")["changed"] is True
    assert node.call("virt.undefine", "life")["changed"] is True
    assert node.call("virt.list") == []


def test_unknown_domain_and_wrong_state_are_typed_errors(virt_node: Callable[..., VirtNode]) -> None:
    node = virt_node("h1")
    ret = node.call_ret("virt.start", "nosuchvm")
    assert not ret.ok and ret.error_type == "DomainNotFound" and "nosuchvm" in ret.error
    for fun, args, kwargs in (("virt.shutdown", ["x"], {"timeout": "soon"}), ("virt.migrate", ["x", "u"], {"retries": -1}),
                              ("virt.migrate", ["x", "u"], {"fallback": "pray"})):
        ret = node.call_ret(fun, *args, **kwargs)
        assert not ret.ok and ret.error_type == "InvalidArgument", ret
    node.call("virt.define", name="idle", **DISKLESS)
    ret = node.call_ret("virt.stats", "idle")
    assert not ret.ok and ret.error_type == "DomainStateError"


def _ticks(node: VirtNode, name: str) -> list[int]:
    return [int(m.group(1)) for line in node.call("virt.console_log", name, 200)
            if (m := re.fullmatch(r"tick (\d+)", line.strip()))]


def test_live_migration_keeps_a_running_guest_running(virt_node: Callable[..., VirtNode]) -> None:
    kernel, initrd = guest_kernel()
    src, dst = virt_node("h1"), virt_node("h2")
    spec: dict[str, Any] = {"name": "tick", "type": "qemu", "vcpus": 1, "memory": 128, "kernel": str(kernel),
                            "initrd": str(initrd), "cmdline": "console=ttyS0 quiet panic=-1"}
    uuid = src.call("virt.define", **spec)["uuid"]
    src.call("virt.start", "tick")
    wait_for(lambda: len(_ticks(src, "tick")) >= 2, 90, "the TCG guest to print tick 1")

    result = src.call("virt.migrate", "tick", dst.host.uri, fallback=None, max_downtime_ms=500)
    assert result["method"] == "live" and result["attempts"] == 1 and result["duration"] > 0
    assert isinstance(result["downtime_ms"], int) and result["downtime_ms"] >= 0  # measured by QEMU

    assert [d["name"] for d in src.call("virt.list")] == []
    assert dst.call("virt.list") == [{"name": "tick", "uuid": uuid, "state": "running", "vcpus": 1, "memory": 128,
                                      "node": "h2"}]
    after = len(_ticks(dst, "tick"))
    wait_for(lambda: len(_ticks(dst, "tick")) >= after + 2, 30, "ticks to continue on the destination")
    ticks = _ticks(dst, "tick")
    assert ticks == list(range(len(ticks))), "the tick sequence restarted or skipped: the guest did not keep running"
    assert dst.events.wait("pvc/vm/tick/migrated")["direction"] == "in"
    assert src.events.wait("pvc/vm/tick/migrated")["direction"] == "out"
    assert "pvc/vm/tick/stopped" not in src.events.tags() + dst.events.tags()


def test_migration_failure_and_shutdown_fallback(virt_node: Callable[..., VirtNode]) -> None:
    src, dst = virt_node("h1", shutdown_timeout=0.5), virt_node("h2")
    src.call("virt.define", name="cold", **DISKLESS)
    src.call("virt.start", "cold")
    ret = src.call_ret("virt.migrate", "cold", "qemu+unix:///system?socket=/nonexistent", fallback=None)
    assert not ret.ok and ret.error_type == "MigrationFailed" and "after 1 attempt" in ret.error
    result = src.call("virt.migrate", "cold", dst.host.uri, live=False)
    assert result["method"] == "shutdown" and result["shutdown"] == "destroyed"
    assert [(d["name"], d["state"]) for d in dst.call("virt.list")] == [("cold", "running")]
    assert src.call("virt.list") == []


def test_daemon_restart_reconnects_calls_and_events(libvirt_hosts: dict[str, LibvirtHost], tmp_path: Path) -> None:
    host = LibvirtHost(tmp_path / "h3", "h3", migration_port_min=49280).start()
    events = EventLog()
    funcs = MinionFunctions(MinionConfig(id="h3", modules={"virt": {"uri": host.uri,
                                                                     "console_dir": str(tmp_path / "c")}}),
                            events=events, grains={})
    try:
        funcs.start_hooks()
        assert events.wait("pvc/virt/h3/connected")["reconnect"] is False
        assert funcs.call("virt.list").data == []
        host.stop()
        ret = funcs.call("virt.list")
        assert not ret.ok and ret.error_type == "BackendUnavailable" and ret.error.startswith(f"libvirt: cannot connect to {host.uri}")
        host.start()
        assert funcs.call("virt.list").ok  # the dead handle was dropped and reopened
        wait_for(lambda: sum(t == "pvc/virt/h3/connected" for t in events.tags()) == 2, 30, "the watcher to reconnect")
        funcs.call("virt.define", [], {"name": "back", **DISKLESS})
        funcs.call("virt.start", ["back"])
        assert events.wait("pvc/vm/back/started")["node"] == "h3"  # the event watcher reconnected too
    finally:
        funcs.close()
        host.stop()
