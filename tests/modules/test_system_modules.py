"""The system modules refuse hostile names before any tool runs (no option injection, no path
escape), and read facts from this machine (users, packages, kernel parameters, zone)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pvc.config import MinionConfig
from pvc.minion.functions import MinionFunctions


@pytest.fixture(scope="module")
def funcs() -> MinionFunctions:
    return MinionFunctions(MinionConfig(id="sys"), grains={})


def refused(funcs: MinionFunctions, fun: str, *args: Any, **kwargs: Any) -> str:
    ret = funcs.call(fun, list(args), kwargs)
    assert not ret.ok and ret.error_type == "InvalidArgument", ret
    return ret.error


@pytest.mark.parametrize(("fun", "args", "kwargs", "says"), [
    ("user.add", ["-o"], {}, "not a valid account name"),
    ("user.add", ["root;id"], {}, "not a valid account name"),
    ("user.add", ["okname"], {"groups": ["--help"]}, "not a valid account name"),
    ("group.add", ["../x"], {}, "not a valid account name"),
    ("pkg.install", ["--allow-unauthenticated"], {}, "not a Debian package name"),
    ("pkg.install", ["vim"], {"version": "-1"}, "not a package version"),
    ("pkg.install", [], {"sources": [{"x": "relative.deb"}]}, "not a local .deb file"),
    ("sysctl.get", ["../../etc/passwd"], {}, "not a kernel parameter name"),
    ("sysctl.get", ["kernel.//"], {}, "not a kernel parameter name"),
    ("sysctl.assign", ["kernel.//.//.//.etc.passwd", "x"], {}, "not a kernel parameter name"),
    ("sysctl.get", ["net.ipv4.conf./eth0.forwarding"], {}, "not a kernel parameter name"),
    ("sysctl.persist", ["net.ipv4.ip_forward", 1], {"config": "relative.conf"}, "absolute path"),
    ("timezone.set_zone", ["../../../etc/passwd"], {}, "not a zone name"),
    ("cmd.run", ["id"], {"runas": "no-such-user-pvc"}, "does not exist"),
])
def test_hostile_names_are_refused(funcs: MinionFunctions, fun: str, args: list[Any], kwargs: dict[str, Any],
                                   says: str) -> None:
    assert says in refused(funcs, fun, *args, **kwargs)


def test_facts_of_this_machine(funcs: MinionFunctions, tmp_path: Path) -> None:
    root = funcs.call("user.info", ["root"]).data
    assert root["uid"] == 0 and root["home"] == "/root" and "root" in root["groups"]
    assert funcs.call("user.info", ["no-such-user-pvc"]).data == {}
    assert funcs.call("group.info", ["root"]).data["gid"] == 0
    pkgs = funcs.call("pkg.list_pkgs").data
    assert "dpkg" in pkgs and funcs.call("pkg.version", ["dpkg"]).data == pkgs["dpkg"]
    assert funcs.call("sysctl.get", ["kernel.ostype"]).data == "Linux"
    assert funcs.call("sysctl.get", ["kernel.no_such_knob"]).data == ""
    conf = tmp_path / "s.conf"
    conf.write_text("# comment\nnet.ipv4.ip_forward=0\nvm.swappiness = 10\n")
    assert funcs.call("sysctl.persist", ["net.ipv4.ip_forward", 1], {"config": str(conf)}).data is True
    assert conf.read_text() == "# comment\nnet.ipv4.ip_forward = 1\nvm.swappiness = 10\n"
    assert funcs.call("sysctl.persisted", ["vm.swappiness"], {"config": str(conf)}).data == "10"
    assert funcs.call("timezone.get_zone").data  # whatever this box says, a zone name


def test_test_mode_runs_no_tool(funcs: MinionFunctions) -> None:
    ret = funcs.call("user.add", ["pvcnever"], {}, test=True)
    assert ret.ok and ret.data is False and funcs.call("user.info", ["pvcnever"]).data == {}
    assert funcs.call("pkg.install", ["pvc-never-exists"], {}, test=True).data == {}
