"""dnsmasq module: a real instance in a namespace, leases from busybox udhcpc in another one."""

from __future__ import annotations

from typing import Any

import pytest

from pvc.dnsmasq.config import parse_hosts
from pvc.dnsmasq.leases import parse_leases
from tests.cluster.net_fixtures import DhcpLab

NET = {"bridge": "br0", "range_start": "10.50.0.100", "range_end": "10.50.0.150", "netmask": "255.255.255.0",
       "domain": "lab.test", "servers": ["127.0.0.53"]}


def ok(funcs: Any, fun: str, *args: Any, test: bool = False, **kwargs: Any) -> Any:
    ret = funcs.call(f"dnsmasq.{fun}", args, kwargs, test=test)
    assert ret.ok, ret.error
    return ret.data


@pytest.fixture
def dns(pvc_functions: Any, dhcp_lab: DhcpLab) -> Any:
    funcs = pvc_functions(dnsmasq={"run_dir": dhcp_lab.run_dir})
    yield funcs
    funcs.call("dnsmasq.stop", ["vnet1"])


def test_lease_reservation_reload_and_stop(dns: Any, dhcp_lab: DhcpLab) -> None:
    reserved = [{"mac": "02:00:00:00:AA:01", "ip": "10.50.0.10", "hostname": "vm1"}]
    assert ok(dns, "start", "vnet1", test=True, netns=dhcp_lab.server, **NET)["comment"] == "would start dnsmasq for vnet1"
    started = ok(dns, "start", "vnet1", netns=dhcp_lab.server, reservations=reserved, **NET)
    assert started["changed"] is True
    pid = started["pid"]
    again = ok(dns, "start", "vnet1", netns=dhcp_lab.server, reservations=reserved, **NET)
    assert again == {"changed": False, "pid": pid, "comment": "dnsmasq for vnet1 already runs with this config"}

    got = dhcp_lab.lease("02:00:00:00:aa:01", "vm1")
    assert "lease of 10.50.0.10 obtained" in got.stderr + got.stdout, got
    leases = ok(dns, "leases", "vnet1")
    assert [(le["mac"], le["ip"], le["hostname"]) for le in leases] == [("02:00:00:00:aa:01", "10.50.0.10", "vm1")]

    added = ok(dns, "reservation_present", "vnet1", "02:00:00:00:aa:02", "10.50.0.20", hostname="vm2")
    assert added["changed"] is True and added["reloaded"] is True
    assert ok(dns, "reservation_present", "vnet1", "02:00:00:00:aa:02", "10.50.0.20", hostname="vm2")["changed"] is False
    got = dhcp_lab.lease("02:00:00:00:aa:02", "vm2")
    assert "lease of 10.50.0.20 obtained" in got.stderr + got.stdout, got
    assert ok(dns, "status", "vnet1")["pid"] == pid  # no restart
    assert ok(dns, "reload", "vnet1", test=True) == {"reloaded": False, "test": True, "pid": pid}
    assert ok(dns, "reload", "vnet1") == {"reloaded": True, "pid": pid}
    assert {le["ip"] for le in ok(dns, "leases", "vnet1")} == {"10.50.0.10", "10.50.0.20"}

    assert ok(dns, "reservation_absent", "vnet1", "02:00:00:00:AA:02")["changed"] is True
    assert [r["mac"] for r in ok(dns, "reservations", "vnet1")] == ["02:00:00:00:aa:01"]
    dynamic = dhcp_lab.lease("02:00:00:00:aa:03", "dyn3")
    assert "lease of 10.50.0.1" in dynamic.stderr + dynamic.stdout  # from the range 10.50.0.100-150

    assert ok(dns, "stop", "vnet1") == {"changed": True, "pid": pid, "comment": f"dnsmasq for vnet1 stopped (pid {pid})"}
    assert ok(dns, "status", "vnet1")["running"] is False
    assert ok(dns, "stop", "vnet1")["changed"] is False


def test_bad_input_and_start_errors(dns: Any, dhcp_lab: DhcpLab) -> None:
    ret = dns.call("dnsmasq.start", ["../etc"], {**NET, "netns": dhcp_lab.server})
    assert not ret.ok and "network name '../etc' is not valid" in ret.error
    ret = dns.call("dnsmasq.reservation_present", ["vnet1", "zz", "10.50.0.9"])
    assert not ret.ok and "MAC address 'zz' is not valid" in ret.error
    ret = dns.call("dnsmasq.start", ["vnet1"], {**NET, "netns": "pvc-no-such-ns"})
    assert not ret.ok and ret.error == "dnsmasq: no network namespace named 'pvc-no-such-ns'"
    ret = dns.call("dnsmasq.start", ["vnet1"], {**NET, "bridge": "br9", "netns": dhcp_lab.server})
    assert not ret.ok and "cannot start" in ret.error and "br9" in ret.error


def test_parsers() -> None:
    text = ("1795591692 02:00:00:00:aa:01 10.50.0.10 vm1 01:02:00:00:00:aa:01\n"
            "0 02:00:00:00:aa:03 10.50.0.130 * *\nduid 00:01:00:01\n")
    assert parse_leases(text) == [
        {"expires": 1795591692, "mac": "02:00:00:00:aa:01", "ip": "10.50.0.10", "hostname": "vm1",
         "client_id": "01:02:00:00:00:aa:01"},
        {"expires": None, "mac": "02:00:00:00:aa:03", "ip": "10.50.0.130", "hostname": None, "client_id": None},
    ]
    assert [r.hostname for r in parse_hosts("02:00:00:00:aa:01,10.50.0.1,vm1\n02:00:00:00:aa:02,10.50.0.2\n")] == ["vm1", None]


def test_missing_binary_is_backend_unavailable(pvc_functions: Any, tmp_path: Any) -> None:
    funcs = pvc_functions(dnsmasq={"run_dir": str(tmp_path), "binary": "/nonexistent/dnsmasq"})
    ret = funcs.call("dnsmasq.start", ["vnet9"], {**NET})
    assert not ret.ok and ret.error_type == "BackendUnavailable" and "is dnsmasq installed?" in ret.error
