"""frr module: two real FRR instances (one per namespace) configured through ``frr.apply``,
reaching Established with EVPN and seeing each other's VTEP through ``frr.evpn_vni``."""

from __future__ import annotations

import os
import pwd
from typing import Any

import pytest

from pvc.frr.vtysh import Diff, FrrConfigInvalid, FrrPaths, Vtysh
from tests.cluster.net_fixtures import FrrNode
from tests.cluster.wait import wait_for


def ok(funcs: Any, fun: str, *args: Any, test: bool = False, **kwargs: Any) -> Any:
    ret = funcs.call(f"frr.{fun}", args, kwargs, test=test)
    assert ret.ok, ret.error
    return ret.data


def settings(me: FrrNode, peer: FrrNode) -> dict[str, Any]:
    return {"asn": 65000, "router_id": me.ip, "peers": [{"address": peer.ip, "remote_as": 65000, "connect_timer": 1}]}


def test_evpn_between_two_instances(pvc_functions: Any, frr_pair: tuple[FrrNode, FrrNode]) -> None:
    r1, r2 = frr_pair
    f1, f2 = (pvc_functions(frr=node.module_config) for node in frr_pair)
    dry = ok(f1, "apply", test=True, **settings(r1, r2))
    assert dry["test"] is True and "advertise-all-vni" in "\n".join(dry["changes"]["add"])
    for funcs, me, peer in ((f1, r1, r2), (f2, r2, r1)):
        assert ok(funcs, "apply", **settings(me, peer))["changed"] is True
    again = ok(f1, "apply", **settings(r1, r2))
    assert again["changed"] is False and "nothing changed" in again["comment"]
    st = os.stat(os.path.join(r1.dir, "frr.conf"))  # readable by FRR's user, by no one else
    assert (pwd.getpwuid(st.st_uid).pw_name, oct(st.st_mode & 0o777)) == ("frr", "0o640")

    def established() -> bool:
        peers = ok(f1, "bgp_summary").get("l2VpnEvpn", {}).get("peers", {})
        return peers.get(r2.ip, {}).get("state") == "Established"

    wait_for(established, 20, "EVPN session r1 -> r2 Established")
    for funcs, peer in ((f1, r2), (f2, r1)):
        wait_for(lambda f=funcs, ip=peer.ip: ip in ok(f, "evpn_vni").get("100", {}).get("remoteVteps", []), 10,
                 f"remote VTEP {peer.ip} in VNI 100")
    vni = ok(f1, "evpn_vni")["100"]
    assert (vni["vxlanIf"], vni["type"]) == ("vx100", "L2")
    routes = ok(f1, "routes")
    assert "10.0.12.0/24" in routes
    assert f"neighbor {r2.ip} remote-as 65000" in ok(f1, "running_config")


def test_invalid_settings_are_refused(pvc_functions: Any, frr_pair: tuple[FrrNode, FrrNode]) -> None:
    f1 = pvc_functions(frr=frr_pair[0].module_config)
    ret = f1.call("frr.apply", [], {"asn": 65000, "router_id": "not-an-ip"})
    assert not ret.ok and ret.error == "frr: router_id 'not-an-ip' is not an IP address"
    ret = f1.call("frr.apply", [], {"asn": 65000, "router_id": "10.0.0.1", "peers": [{"address": "10.0.0.2"}]})
    assert not ret.ok and "remote_as" in ret.error
    ret = f1.call("frr.render", [], {"asn": 65000, "router_id": "10.0.0.1", "colour": "red"})
    assert not ret.ok and "colour" in ret.error
    assert ok(f1, "validate", asn=65000, router_id="10.0.0.1") == {"valid": True}


def test_vtysh_dry_run_refuses_a_bad_config(tmp_path: Any) -> None:
    bad = tmp_path / "frr.conf"
    bad.write_text("router bgp 65000\n bogus command here\n")
    with pytest.raises(FrrConfigInvalid, match="Unknown command"):
        Vtysh(FrrPaths(vty_socket=str(tmp_path))).validate(str(bad))


def test_unreachable_daemons_and_diff_parsing(pvc_functions: Any, tmp_path: Any) -> None:
    funcs = pvc_functions(frr={"config_dir": str(tmp_path), "run_dir": str(tmp_path), "vty_socket": str(tmp_path)})
    ret = funcs.call("frr.bgp_summary")
    assert not ret.ok and ret.error_type == "BackendUnavailable" and "cannot reach the FRR daemons" in ret.error
    missing = pvc_functions(frr={"config_dir": str(tmp_path / "nope"), "vty_socket": str(tmp_path)})
    ret = missing.call("frr.validate", [], {"asn": 65000, "router_id": "10.0.0.1"})
    assert not ret.ok and ret.error == f"frr: cannot write {tmp_path}/nope/frr.conf.pvc-new: No such file or directory"
    text = "Lines To Delete\n===============\nno hostname vm\n\nLines To Add\n============\nrouter bgp 1\n bgp router-id 1.1.1.1\n"
    assert Diff.parse(text) == Diff(("no hostname vm",), ("router bgp 1", " bgp router-id 1.1.1.1"))
    assert not Diff.parse("Lines To Delete\n===\n\nLines To Add\n===\n")
