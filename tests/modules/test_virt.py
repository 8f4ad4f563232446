"""The virt module, called through ``MinionFunctions.call`` — the ``pvc call`` code path.

Fast tests use libvirt's in-process test driver (fresh state per test). The rest run on real
libvirtd + QEMU (isolated instances, see tests/cluster/libvirt.py): disk-less 128 MiB KVM guests
(SeaBIOS spins: the vCPU runs) for lifecycle, stats and events; a guest with a file disk and a NIC
on a bridge for device counters; an RBD disk on the memstore Ceph cluster; and a tiny kernel +
busybox guest under TCG, printing ``tick N`` each second, to show a live migration keeps it running.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pvc.config import MinionConfig
from pvc.minion.functions import MinionFunctions
from tests.cluster.ceph import CephCluster
from tests.cluster.libvirt import LibvirtHost, guest_spec, serial_ticks
from tests.cluster.libvirt_fixtures import BRIDGE, EventLog, VirtNode
from tests.cluster.wait import wait_for

NodeFactory = Callable[..., VirtNode]


def test_down_libvirt_is_a_clear_error_fast() -> None:
    funcs = MinionFunctions(MinionConfig(id="t", modules={"virt": {"uri": "qemu+unix:///system?socket=/nonexistent"}}),
                            grains={})
    start = time.monotonic()
    ret = funcs.call("virt.list")
    assert time.monotonic() - start < 5
    assert not ret.ok and ret.error_type == "BackendUnavailable"
    assert ret.error.startswith("libvirt: cannot connect to qemu+unix:///system?socket=/nonexistent: ")


def test_define_test_mode_returns_xml_and_bad_specs_are_refused(fake_virt_node: VirtNode) -> None:
    ret = fake_virt_node.functions.call("virt.define", [], {"name": "vm1", "disks": ["/v/vm1.qcow2", "vms/vm1"],
                                                            "nics": ["br0"]}, test=True)
    assert ret.ok and ret.data["changed"] is False
    xml = ret.data["xml"]
    assert "<source file=\"/v/vm1.qcow2\" />" in xml and 'protocol="rbd" name="vms/vm1"' in xml
    assert '<source bridge="br0" />' in xml and "<cpu" not in xml
    for bad, message in (({"name": "../x"}, "not allowed"), ({"name": "vm1", "vcpus": "two"}, "vcpus"),
                         ({"name": "vm1", "disks": [{"file": "/a", "rbd": "p/i"}]}, "exactly one")):
        ret = fake_virt_node.functions.call("virt.define", [], bad, test=True)
        assert not ret.ok and ret.error_type == "InvalidDomainSpec" and message in ret.error, ret


def test_redefine_keeps_the_uuid_and_says_what_changed(fake_virt_node: VirtNode) -> None:
    node = fake_virt_node
    first = node.call("virt.define", name="vm1", memory=64)
    assert first["changed"] is True
    assert node.call("virt.define", name="vm1", memory=64) == {**first, "changed": False}
    node.call("virt.start", "vm1")
    bigger = node.call("virt.define", name="vm1", memory=96)
    assert bigger == {**first, "changed": True, "pending": True}  # the running VM gets it at its next start
    xml = "<domain type='test'><name>vm1</name><memory unit='MiB'>96</memory><os><type>hvm</type></os></domain>"
    assert node.call("virt.define", xml=xml)["uuid"] == first["uuid"]
    assert [(d["name"], d["memory"]) for d in node.call("virt.list")] == [("vm1", 64)]


def test_restart_and_a_graceful_shutdown(fake_virt_node: VirtNode) -> None:
    node = fake_virt_node  # the test driver's guests obey ACPI at once
    node.call("virt.define", name="vm1", memory=64)
    node.call("virt.start", "vm1")
    assert node.call("virt.restart", "vm1") == {"name": "vm1", "how": "acpi", "state": "running", "changed": True}
    assert node.call("virt.shutdown", "vm1")["how"] == "acpi"
    assert node.call("virt.shutdown", "vm1") == {"name": "vm1", "how": "already stopped", "changed": False}
    assert node.call("virt.destroy", "vm1")["changed"] is False


def test_live_only_policy_retries_and_never_shuts_down(fake_virt_node: VirtNode) -> None:
    node = fake_virt_node  # the test driver cannot live-migrate: every attempt fails
    node.call("virt.define", name="vm1", memory=64, migration="live")
    node.call("virt.start", "vm1")
    ret = node.call_ret("virt.migrate", "vm1", "test:///default", retries=1)
    assert not ret.ok and ret.error_type == "MigrationFailed", ret
    assert "after 2 attempt(s) (its policy allows no shutdown)" in ret.error and "not supported" in ret.error
    assert node.call("virt.info", "vm1")["state"] == "running"


def test_kvm_lifecycle_stats_and_events(virt_node: NodeFactory) -> None:
    node = virt_node("h1", shutdown_timeout=0.5)
    defined = node.call("virt.define", **guest_spec("life"))
    assert node.call("virt.list") == [{"name": "life", "uuid": defined["uuid"], "state": "shutoff", "vcpus": 1,
                                       "memory": 128, "node": "h1"}]
    assert node.call("virt.start", "life")["state"] == "running"
    assert node.call("virt.start", "life")["changed"] is False
    node.events.wait("pvc/vm/life/started")
    stats = node.call("virt.stats", "life")
    assert stats["cpu_time_ns"] > 0 and stats["memory"]["rss"] > 0 and stats["disks"] == {} and stats["nics"] == {}
    info = node.call("virt.info", "life")
    assert info["state"] == "running" and info["persistent"] and info["serial_log"].endswith("/life.log")
    assert info["migration"] == "live-or-shutdown"
    # a guest without an OS ignores ACPI: without force the timeout is an error, with force it is destroyed
    ret = node.call_ret("virt.shutdown", "life")
    assert not ret.ok and ret.error_type == "CommandTimeout" and "force=True" in ret.error
    assert node.call("virt.shutdown", "life", force=True)["how"] == "destroyed"
    assert node.events.wait("pvc/vm/life/stopped")["node"] == "h1"
    node.call("virt.start", "life")
    assert node.call("virt.destroy", "life")["changed"] is True
    assert node.call("virt.undefine", "life")["changed"] is True
    assert node.call("virt.list") == []


def test_a_killed_qemu_is_a_crash_event(virt_node: NodeFactory) -> None:
    node = virt_node("h1")
    node.call("virt.define", **guest_spec("doomed"))
    node.call("virt.start", "doomed")
    assert node.host is not None
    os.kill(node.host.qemu_pid("doomed"), signal.SIGKILL)
    assert node.events.wait("pvc/vm/doomed/crashed")["libvirt_event"] == "STOPPED"
    assert node.call("virt.info", "doomed")["state"] == "shutoff"


def test_unknown_domain_and_wrong_state_are_typed_errors(virt_node: NodeFactory) -> None:
    node = virt_node("h1")
    ret = node.call_ret("virt.start", "nosuchvm")
    assert not ret.ok and ret.error_type == "DomainNotFound" and "nosuchvm" in ret.error
    node.call("virt.define", **guest_spec("idle"))
    for fun, args, kwargs in (("virt.shutdown", ["idle"], {"timeout": "soon"}),
                              ("virt.migrate", ["idle", "u"], {"retries": -1}),
                              ("virt.migrate", ["idle", "u"], {"method": "pray"})):
        ret = node.call_ret(fun, *args, **kwargs)
        assert not ret.ok and ret.error_type == "InvalidArgument", ret
    ret = node.call_ret("virt.stats", "idle")
    assert not ret.ok and ret.error_type == "DomainStateError"


def test_file_disk_and_bridged_nic_counters(virt_node: NodeFactory, bridged_libvirt_host: LibvirtHost,
                                            tmp_path: Path) -> None:
    disk = tmp_path / "dev.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True, timeout=30)
    node = virt_node(bridged_libvirt_host)
    node.call("virt.define", **guest_spec("dev"), disks=[str(disk)], nics=[BRIDGE])
    node.call("virt.start", "dev")
    [nic] = node.call("virt.info", "dev")["nics"]
    assert nic["bridge"] == BRIDGE and nic["dev"]
    # SeaBIOS reads the disk's boot sector; a broadcast on the bridge reaches the guest's NIC
    wait_for(lambda: node.call("virt.stats", "dev")["disks"]["vda"]["rd_req"] > 0, 30, "SeaBIOS to read vda")
    assert bridged_libvirt_host.netns is not None
    subprocess.run(["ip", "netns", "exec", bridged_libvirt_host.netns, "python3", "-c",
                    "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                    "s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1); "
                    "s.sendto(b'hello', ('10.231.0.255', 9))"], check=True, timeout=30)
    wait_for(lambda: node.call("virt.stats", "dev")["nics"][nic["dev"]]["rx_bytes"] > 0, 10, "the guest NIC rx")


def test_rbd_disk(virt_node: NodeFactory, ceph_cluster: CephCluster, ceph_pool: str) -> None:
    import libvirt
    import rbd

    client = ceph_cluster.client()
    try:
        with client.open_ioctx(ceph_pool) as ioctx:
            rbd.RBD().create(ioctx, "rbdvm", 16 << 20)
    finally:
        client.shutdown()
    node = virt_node("h1")
    conn = libvirt.open(node.uri)  # the node's ceph secret, as node set-up would define it
    secret = conn.secretDefineXML("<secret ephemeral='no' private='yes'><usage type='ceph'>"
                                  "<name>client.admin</name></usage></secret>")
    try:
        secret.setValue(base64.b64decode(ceph_cluster.mon_command("auth get-key", entity="client.admin")["key"]))
        disk = {"rbd": f"{ceph_pool}/rbdvm", "monitors": [f"127.0.0.1:{ceph_cluster.port}"], "auth_user": "admin",
                "secret_uuid": secret.UUIDString()}
        node.call("virt.define", **guest_spec("rbdvm"), disks=[disk])
        node.call("virt.start", "rbdvm")
        wait_for(lambda: node.call("virt.stats", "rbdvm")["disks"]["vda"]["rd_bytes"] > 0, 30,
                 "SeaBIOS to read the RBD disk")
        node.call("virt.destroy", "rbdvm")
    finally:
        secret.undefine()
        conn.close()


def _ticks(node: VirtNode, name: str) -> list[int]:
    return serial_ticks(node.call("virt.console_log", name, 200))


def test_live_migration_keeps_a_running_guest_running(virt_node: NodeFactory) -> None:
    src, dst = virt_node("h1"), virt_node("h2")
    uuid = src.call("virt.define", **guest_spec("tick", ticking=True), migration="live")["uuid"]
    src.call("virt.start", "tick")
    wait_for(lambda: len(_ticks(src, "tick")) >= 2, 90, "the TCG guest to print tick 1")

    result = src.call("virt.migrate", "tick", dst.uri, max_downtime_ms=500)
    assert result["method"] == "live" and result["policy"] == "live" and result["attempts"] == 1
    assert result["duration"] > 0 and result["errors"] == []
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


def test_failed_live_migration_falls_back_to_shutdown(virt_node: NodeFactory) -> None:
    src, dst = virt_node("h1", shutdown_timeout=0.5), virt_node("h2")
    src.call("virt.define", **guest_spec("cold"))  # default policy: live, else shutdown -> start there
    src.call("virt.start", "cold")
    ret = src.call_ret("virt.migrate", "cold", "qemu+unix:///system?socket=/nonexistent", method="live")
    assert not ret.ok and ret.error_type == "MigrationFailed" and "after 1 attempt" in ret.error
    with socket.socket() as stall:  # the stream goes to a socket nobody reads: the live attempt stalls
        stall.bind(("127.0.0.1", 0))
        stall.listen()
        result = src.call("virt.migrate", "cold", dst.uri, data_host=f"127.0.0.1:{stall.getsockname()[1]}",
                          timeout=2)
    assert result["method"] == "shutdown" and result["shutdown"] == "destroyed" and result["attempts"] == 1
    assert result["errors"] == ["aborted after 2s (migration timeout)"] and result["policy"] == "live-or-shutdown"
    assert [(d["name"], d["state"]) for d in dst.call("virt.list")] == [("cold", "running")]
    assert src.call("virt.list") == []
    dst.call("virt.destroy", "cold")
    assert dst.call("virt.migrate", "cold", src.uri)["method"] == "offline"  # a stopped VM moves its definition
    assert [(d["name"], d["state"]) for d in src.call("virt.list")] == [("cold", "shutoff")]


def test_a_refused_shutdown_move_starts_the_vm_here_again(virt_node: NodeFactory) -> None:
    src, dst = virt_node("h1", shutdown_timeout=0.5), virt_node("h2")
    src.call("virt.define", **guest_spec("twin"))
    dst.call("virt.define", **guest_spec("twin"))  # another VM of that name (other UUID) is there
    src.call("virt.start", "twin")
    ret = src.call_ret("virt.migrate", "twin", dst.uri, method="shutdown")
    assert not ret.ok and ret.error_type == "MigrationFailed" and "it was started here again" in ret.error, ret
    assert [(d["name"], d["state"]) for d in src.call("virt.list")] == [("twin", "running")]


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
        assert not ret.ok and ret.error_type == "BackendUnavailable"
        assert ret.error.startswith(f"libvirt: cannot connect to {host.uri}")
        host.start()
        assert funcs.call("virt.list").ok  # the dead handle was dropped and reopened
        wait_for(lambda: sum(t == "pvc/virt/h3/connected" for t in events.tags()) == 2, 30, "the watcher to reconnect")
        funcs.call("virt.define", [], guest_spec("back"))
        funcs.call("virt.start", ["back"])
        assert events.wait("pvc/vm/back/started")["node"] == "h3"  # the event watcher reconnected too
    finally:
        funcs.close()
        host.stop()
