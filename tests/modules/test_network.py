"""network module against the real kernel, inside namespaces the test makes (via ``pvc call``'s path)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster.net import VLAN_SKIP, NetLab, vlan_supported


def ok(funcs: Any, fun: str, *args: Any, test: bool = False, **kwargs: Any) -> Any:
    ret = funcs.call(f"network.{fun}", args, kwargs, test=test)
    assert ret.ok, ret.error
    return ret.data


@pytest.fixture
def net(pvc_functions: Any) -> Any:
    return pvc_functions()


def test_bridge_and_vxlan_are_idempotent(net: Any, netns: str) -> None:
    first = ok(net, "bridge_present", "br100", netns=netns)
    assert first["changed"] is True and "create bridge br100" in first["changes"]
    again = ok(net, "bridge_present", "br100", netns=netns)
    assert again["changed"] is False and "nothing changed" in again["comment"]

    ok(net, "veth_present", "u0", peer="u1", netns=netns)
    ok(net, "address_present", "u0", "10.0.12.1/24", netns=netns)
    vx = {"vni": 100, "local": "10.0.12.1", "bridge": "br100", "netns": netns}
    dry = ok(net, "vxlan_present", "vx100", test=True, **vx)
    assert dry["changed"] is False and dry["test"] is True and dry["comment"].startswith("would create vxlan vx100")
    assert not any(link["name"] == "vx100" for link in ok(net, "links", netns=netns))

    assert ok(net, "vxlan_present", "vx100", **vx)["changed"] is True
    assert ok(net, "vxlan_present", "vx100", **vx)["changed"] is False
    link = next(link for link in ok(net, "links", netns=netns) if link["name"] == "vx100")
    assert link | {"vni": 100, "local": "10.0.12.1", "port": 4789, "learning": False, "master": "br100", "up": True} == link

    changed = ok(net, "vxlan_present", "vx100", **{**vx, "vni": 200})
    assert changed["changed"] is True and "vni 100 -> 200" in changed["changes"][0]

    assert ok(net, "vxlan_absent", "vx100", netns=netns)["changed"] is True
    assert ok(net, "vxlan_absent", "vx100", netns=netns)["changed"] is False
    assert ok(net, "bridge_absent", "br100", netns=netns)["changed"] is True


def test_addresses_routes_and_link_state(net: Any, netns: str) -> None:
    ok(net, "veth_present", "a0", peer="a1", netns=netns)
    assert ok(net, "address_present", "a0", "10.9.0.1/24", netns=netns)["changed"] is True
    assert ok(net, "address_present", "a0", "10.9.0.1/24", netns=netns)["changed"] is False
    assert {"interface": "a0", "address": "10.9.0.1/24", "family": "inet"} in ok(net, "addresses", "a0", netns=netns)

    assert ok(net, "route_present", "10.200.0.0/16", gateway="10.9.0.2", netns=netns)["changed"] is True
    assert ok(net, "route_present", "10.200.0.0/16", gateway="10.9.0.2", netns=netns)["changed"] is False
    moved = ok(net, "route_present", "10.200.0.0/16", gateway="10.9.0.3", netns=netns)
    assert moved["changed"] is True and moved["changes"][0].startswith("change route")
    route = next(r for r in ok(net, "routes", netns=netns) if r["dst"] == "10.200.0.0/16")
    assert (route["gateway"], route["interface"]) == ("10.9.0.3", "a0")
    assert ok(net, "route_absent", "10.200.0.0/16", netns=netns)["changed"] is True
    assert ok(net, "route_absent", "10.200.0.0/16", netns=netns)["changed"] is False

    assert ok(net, "link_down", "a0", netns=netns)["changed"] is True
    assert ok(net, "link_down", "a0", netns=netns)["changed"] is False
    assert ok(net, "link_up", "a0", netns=netns)["changed"] is True
    assert ok(net, "address_absent", "a0", "10.9.0.1/24", netns=netns)["changed"] is True
    assert ok(net, "address_absent", "a0", "10.9.0.1/24", netns=netns)["changed"] is False


def test_errors_are_clear(net: Any, netns: str) -> None:
    ret = net.call("network.address_present", ["nope0", "10.0.0.1/24"], {"netns": netns})
    assert not ret.ok and "no interface named 'nope0'" in ret.error
    ret = net.call("network.address_present", ["lo", "10.0.0.1"], {"netns": netns})
    assert not ret.ok and "needs a prefix length" in ret.error
    ret = net.call("network.links", [], {"netns": "pvc-no-such-ns"})
    assert not ret.ok and "no network namespace named 'pvc-no-such-ns'" in ret.error
    ok(net, "bridge_present", "br0", netns=netns)
    ret = net.call("network.vxlan_present", ["br0"], {"vni": 5, "local": "10.0.0.1", "netns": netns})
    assert not ret.ok and "br0 exists as a bridge interface, not a vxlan" in ret.error


@pytest.mark.parametrize(("fun", "args", "kwargs", "error"), [
    ("vxlan_present", ["vx1"], {"vni": "abc", "local": "10.0.0.1"},
     "network.vxlan_present: argument 'vni' must be an integer, got a string"),
    ("vxlan_present", ["vx1"], {"vni": 5, "local": "10.0.0.1", "learning": "no"},
     "network.vxlan_present: argument 'learning' must be a boolean, got a string"),
    ("vxlan_present", ["vx1"], {"vni": 2**24, "local": "10.0.0.1"}, "vni must be a whole number 1..16777215"),
    ("vxlan_present", ["vx1"], {"vni": 5, "local": "nope"}, "local 'nope' is not an IPv4 address"),
    ("vxlan_present", ["vx1"], {"vni": 5, "local": "10.0.0.1", "bridge": "nobr"}, "no bridge named 'nobr'"),
    ("vlan_present", ["v.5"], {"parent": "lo", "vlan_id": 5000}, "vlan_id must be a whole number 1..4094"),
    ("bridge_present", ["a-name-longer-than-15"], {}, "interface name 'a-name-longer-than-15' is not valid"),
    ("route_present", ["10.1.0.0/16"], {"gateway": "fd00::1"}, "gateway 'fd00::1' is not an IPv4 address"),
    ("veth_present", ["x0"], {"peer": "x1", "peer_netns": "../etc"}, "invalid namespace name '../etc'"),
])
def test_bad_arguments_change_nothing(net: Any, netns: str, fun: str, args: list[Any], kwargs: dict[str, Any],
                                      error: str) -> None:
    ret = net.call(f"network.{fun}", args, {**kwargs, "netns": netns})
    assert not ret.ok and ret.error_type in ("InvalidArgument", "NoSuchLink") and error in ret.error
    assert [link["name"] for link in ok(net, "links", netns=netns)] == ["lo"]


def test_vni_held_by_another_vxlan(net: Any, netns: str) -> None:
    ok(net, "vxlan_present", "vx1", vni=7, local="10.0.0.1", netns=netns)
    ret = net.call("network.vxlan_present", ["vx2"], {"vni": 7, "local": "10.0.0.1", "netns": netns})
    assert not ret.ok and ret.error == "network: VNI 7 (port 4789) is already used by vx1"


def test_vlan(net: Any, netns: str, net_lab: NetLab) -> None:
    ok(net, "veth_present", "v0", peer="v1", netns=netns)
    if not vlan_supported():
        ret = net.call("network.vlan_present", ["v0.10"], {"parent": "v0", "vlan_id": 10, "netns": netns})
        assert not ret.ok and ret.error == VLAN_SKIP
        pytest.skip(VLAN_SKIP)
    assert ok(net, "vlan_present", "v0.10", parent="v0", vlan_id=10, netns=netns)["changed"] is True
    assert ok(net, "vlan_present", "v0.10", parent="v0", vlan_id=10, netns=netns)["changed"] is False
    assert ok(net, "vlan_absent", "v0.10", netns=netns)["changed"] is True


def test_dry_run_changes_nothing(net: Any, netns: str) -> None:
    dry = ok(net, "veth_present", "d0", peer="d1", test=True, netns=netns)
    assert dry == {"changed": False, "test": True, "changes": ["create veth d0", "set d0 up"],
                   "comment": "would create veth d0; set d0 up"}
    assert [link["name"] for link in ok(net, "links", netns=netns)] == ["lo"]
