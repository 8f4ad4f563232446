"""grains.items / get / item / ls via the `pvc call` path, with grains collected on this machine."""

from __future__ import annotations

import pytest

from pvc.config import MinionConfig
from pvc.minion.functions import MinionFunctions

CUSTOM = {
    "roles": ["web", "hv"],
    "os": "Custom",
    "virt_caps": {"vendor": "acme"},
    "rack": {"row": 3, "a:b": "colon key"},
}


@pytest.fixture(scope="module")
def funcs() -> MinionFunctions:
    return MinionFunctions(MinionConfig(id="grains-test", grains=CUSTOM))


def test_items_are_collected_facts_plus_custom(funcs: MinionFunctions) -> None:
    items = funcs.call("grains.items").data
    assert items["id"] == "grains-test"
    assert items["kernel"] == "Linux" and items["num_cpus"] >= 1 and "127.0.0.1" in items["ipv4"]
    assert items["os"] == "Custom"  # custom grains override collected ones
    assert items["roles"] == ["web", "hv"]
    assert items["virt_caps"]["vendor"] == "acme" and isinstance(items["virt_caps"]["kvm"], bool)  # merged


def test_items_is_a_copy(funcs: MinionFunctions) -> None:
    funcs.call("grains.items").data["roles"].append("evil")
    funcs.call("grains.get", ["rack"]).data["row"] = 99
    assert funcs.grains["roles"] == ["web", "hv"] and funcs.grains["rack"]["row"] == 3


def test_get_plain_and_nested(funcs: MinionFunctions) -> None:
    assert funcs.call("grains.get", ["roles"]).data == ["web", "hv"]
    assert funcs.call("grains.get", ["roles:1"]).data == "hv"
    assert funcs.call("grains.get", ["rack:row"]).data == 3
    assert funcs.call("grains.get", ["virt_caps:kvm"]).data is funcs.grains["virt_caps"]["kvm"]
    assert funcs.call("grains.get", ["rack:a:b"]).data == "colon key"  # a name containing the delimiter
    assert funcs.call("grains.get", ["rack/row"], {"delimiter": "/"}).data == 3


def test_get_missing_gives_default(funcs: MinionFunctions) -> None:
    assert funcs.call("grains.get", ["nosuch"]).data == ""  # Salt's default
    assert funcs.call("grains.get", ["virt_caps:nosuch", False]).data is False
    assert funcs.call("grains.get", ["roles:7"], {"default": "none"}).data == "none"
    bad = funcs.call("grains.get", [""])
    assert not bad.ok and bad.error_type == "InvalidArgument"


def test_item_and_ls(funcs: MinionFunctions) -> None:
    assert funcs.call("grains.item", ["os", "roles", "nosuch"]).data == {"os": "Custom", "roles": ["web", "hv"]}
    names = funcs.call("grains.ls").data
    assert names == sorted(funcs.grains) and {"id", "virt", "virt_caps", "roles"} <= set(names)
