"""pvc.modules.mine: Salt's mine_functions shapes read into typed entries, mine.valid from the
top-level minion options, and no master under pvc call (a clear error, not a crash)."""

from __future__ import annotations

import pytest

from pvc.config import MinionConfig
from pvc.errors import ConfigError
from pvc.minion.functions import MinionFunctions
from pvc.modules.mine import MineFunction, mine_function


@pytest.mark.parametrize(("name", "spec", "expected"), [
    ("test.ping", None, MineFunction("test.ping", "test.ping")),
    ("grains.items", [], MineFunction("grains.items", "grains.items")),
    ("network.ip_addrs", ["eth0", {"cidr": "10.0.0.0/8"}],
     MineFunction("network.ip_addrs", "network.ip_addrs", ("eth0",), {"cidr": "10.0.0.0/8"})),
    ("ips", [{"mine_function": "grains.get"}, "ipv4"], MineFunction("ips", "grains.get", ("ipv4",))),
    ("ips", {"mine_function": "grains.get", "key": "ipv4", "allow_tgt": "G@role:hv", "allow_tgt_type": "compound"},
     MineFunction("ips", "grains.get", (), {"key": "ipv4"}, "G@role:hv", "compound")),
    ("t.arg", [{"a": 1, "b": 2}], MineFunction("t.arg", "t.arg", ({"a": 1, "b": 2},))),  # two keys: an argument
])
def test_salts_shapes(name, spec, expected) -> None:
    assert mine_function(name, spec) == expected


@pytest.mark.parametrize(("name", "spec"), [
    ("x", "grains.items"), ("nodot", []), ("a", {"mine_function": "mine.get"}), ("a", {"mine_function": 3}),
    ("a.b", {"allow_tgt": ["x"]}), ("a" * 300 + ".b", []),
])
def test_bad_entries_are_config_errors(name, spec) -> None:
    with pytest.raises(ConfigError, match="mine_functions"):
        mine_function(name, spec)


def test_valid_reads_the_top_level_options_and_pvc_call_has_no_master(tmp_path) -> None:
    funcs = MinionFunctions(MinionConfig(id="hv1", mine_functions={"ips": {"mine_function": "grains.get",
                                                                          "key": "ipv4"}}), grains={"id": "hv1"})
    assert funcs.call("mine.valid").data == {"ips": {"mine_function": "grains.get", "args": [], "kwargs": {"key": "ipv4"}}}
    for fun, args in (("mine.get", ["*", "ips"]), ("mine.update", []), ("mine.send", ["x"]), ("mine.flush", [])):
        ret = funcs.call(fun, args)
        assert not ret.ok and ret.error_type == "BackendUnavailable" and "pvc call runs without one" in ret.error


def test_the_mine_is_set_by_salts_top_level_options_only() -> None:
    with pytest.raises(ConfigError, match="top-level options mine_functions, mine_interval"):
        MinionFunctions(MinionConfig(id="hv1", modules={"mine": {"functions": {}}}), grains={"id": "hv1"})
