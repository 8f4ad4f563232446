"""The execution functions map.jinja files call (pillar, config, defaults, slsutil, grains.filter_by,
file, cmd.has_exec, log), through the same executor a job uses, with Salt's semantics."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from pvc.config import MinionConfig
from pvc.minion.functions import MinionFunctions
from pvc.states.caller import ExecFunctionFailed, RegistryCaller

GRAINS = {"os": "Debian", "os_family": "Debian", "roles": ["hv", "web"], "osrelease": "12", "rack": {"row": 3}}
PILLAR = {"ntp": {"servers": ["a", "b"], "opts": {"iburst": True}}, "users": {"alice": {"uid": 2001}}}


@pytest.fixture(scope="module")
def call() -> Any:
    funcs = MinionFunctions(MinionConfig(id="tf", grains=GRAINS, modules={"config": {"options": {
        "ntp": {"servers": ["opt"]}, "only_opt": 1}}}), grains=GRAINS)
    caller = RegistryCaller(funcs.registry, lambda mod, test: funcs.context(mod, test=test), PILLAR)
    return lambda fun, *args, **kwargs: caller.call(fun, args, kwargs)


def test_pillar_get(call: Any) -> None:
    assert call("pillar.get", "ntp:servers") == ["a", "b"]
    assert call("pillar.get", "ntp:missing", "dflt") == "dflt"
    assert call("pillar.get", "nothing") == ""  # Salt's default default
    merged = call("pillar.get", "ntp", {"servers": ["x"], "opts": {"prefer": 1}}, merge=True)
    assert merged == {"servers": ["a", "b"], "opts": {"prefer": 1, "iburst": True}}
    assert call("pillar.get", "ntp/servers", delimiter="/") == ["a", "b"]
    call("pillar.get", "ntp")["servers"].append("evil")
    assert PILLAR["ntp"]["servers"] == ["a", "b"]  # a copy


def test_config_get_order_and_merge(call: Any) -> None:
    assert call("config.get", "only_opt") == 1
    assert call("config.get", "ntp:servers") == ["opt"]      # minion option first
    assert call("config.get", "os") == "Debian"              # then grains
    assert call("config.get", "users:alice:uid") == 2001     # then pillar
    assert call("config.get", "nope", 7) == 7
    assert call("config.get", "ntp", merge="recurse") == {"servers": ["a", "b"], "opts": {"iburst": True}}


def test_grains_filter_by(call: Any) -> None:
    lookup = {"Debian": {"pkg": "ntp", "conf": "/etc/ntp.conf"}, "RedHat": {"pkg": "chrony"},
              "default": {"pkg": "ntpd"}, "base": {"svc": "ntp", "conf": "/etc/base.conf"}}
    assert call("grains.filter_by", lookup) == {"pkg": "ntp", "conf": "/etc/ntp.conf"}
    assert call("grains.filter_by", lookup, grain="os_family", base="base") == \
        {"svc": "ntp", "conf": "/etc/ntp.conf", "pkg": "ntp"}
    assert call("grains.filter_by", lookup, grain="nonexistent") == {"pkg": "ntpd"}
    assert call("grains.filter_by", lookup, merge={"pkg": "ntpsec"}) == {"pkg": "ntpsec", "conf": "/etc/ntp.conf"}
    assert call("grains.filter_by", {"web*": 1, "db": 2}, grain="roles") == 1   # list grain, glob key
    assert call("grains.filter_by", {"12": "bookworm"}, grain="osrelease") == "bookworm"
    assert call("grains.filter_by", {"x": 1}, grain="os") is None
    with pytest.raises(ExecFunctionFailed, match="mappings"):
        call("grains.filter_by", {"Debian": "str", "base": {"a": 1}}, base="base")


def test_defaults_and_slsutil(call: Any) -> None:
    dest = {"a": {"x": 1}, "l": [1]}
    assert call("defaults.merge", dest, {"a": {"y": 2}, "l": [2]}, in_place=False) == {"a": {"x": 1, "y": 2}, "l": [2]}
    assert dest == {"a": {"x": 1}, "l": [1]}
    assert call("defaults.merge", dest, {"l": [2]}, merge_lists=True) == {"a": {"x": 1}, "l": [1, 2]}
    assert dest["l"] == [1, 2]  # in place, as Salt
    assert call("defaults.update", {"a": 1}, {"a": 0, "b": 2}) == {"a": 1, "b": 2}
    assert call("slsutil.merge", {"a": {"b": [1]}}, {"a": {"b": [2], "c": 3}}) == {"a": {"b": [2], "c": 3}}
    assert call("slsutil.merge", {"a": {"b": [1]}}, {"a": {"b": [2]}}, merge_lists=True) == {"a": {"b": [1, 2]}}
    assert call("slsutil.merge", {"a": {"b": 1}}, {"a": {"c": 2}}, strategy="overwrite") == {"a": {"c": 2}}
    assert call("slsutil.serialize", "json", {"b": 1, "a": [1]}) == '{"b": 1, "a": [1]}'
    assert call("slsutil.serialize", "yaml", {"a": [1]}) == "a:\n- 1\n"
    assert call("slsutil.deserialize", "yaml", "a: [1]") == {"a": [1]}
    with pytest.raises(ExecFunctionFailed, match="strategy"):
        call("slsutil.merge", {}, {}, strategy="bogus")


def test_file_facts_and_has_exec(call: Any, tmp_path: Path) -> None:
    conf = tmp_path / "ntp.conf"
    conf.write_text("# server old\nserver 10.0.0.1 iburst\n")
    assert call("file.file_exists", str(conf)) and not call("file.file_exists", str(tmp_path))
    assert call("file.directory_exists", str(tmp_path))
    assert call("file.dirname", "/etc/ntp.conf") == "/etc" and call("file.basename", "/etc/ntp.conf") == "ntp.conf"
    assert call("file.contains_regex", str(conf), r"^server 10\.")
    assert not call("file.contains_regex", str(conf), r"^server old")
    assert call("file.contains_regex", str(conf), r"^ server old", lchar="#")
    assert not call("file.contains_regex", str(tmp_path / "absent"), "x")
    assert call("file.contains", str(conf), "iburst")
    with pytest.raises(ExecFunctionFailed, match="bad regex"):
        call("file.contains_regex", str(conf), "(")
    assert call("cmd.has_exec", "sh") and not call("cmd.has_exec", "no-such-tool-pvc")


def test_log_functions_reach_the_minion_log(call: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="pvc.modules.log"):
        assert call("log.warning", "map for %s", "ntp") is None
        call("log.debug", "dbg")
    assert ("pvc.modules.log", logging.WARNING, "map for ntp") in caplog.record_tuples
    assert ("pvc.modules.log", logging.DEBUG, "dbg") in caplog.record_tuples
