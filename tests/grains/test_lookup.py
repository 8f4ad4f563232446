"""Colon-path lookup and the merge of custom grains."""

from __future__ import annotations

from pvc.grains.lookup import merge, traverse

DATA = {
    "virt_caps": {"kvm": True, "libvirt_version": "9.0.0"},
    "ipv4": ["127.0.0.1", "10.0.0.5"],
    "disks": [{"name": "vda"}],
    "a:b": {"c": 1},
    "addr": {"fd00::1": "v6 key"},
}


def test_traverse() -> None:
    assert traverse(DATA, "virt_caps:kvm") is True
    assert traverse(DATA, "ipv4:1") == "10.0.0.5"
    assert traverse(DATA, "ipv4:-1") == "10.0.0.5"
    assert traverse(DATA, "disks:0:name") == "vda"
    assert traverse(DATA, "a:b:c") == 1
    assert traverse(DATA, "addr:fd00::1") == "v6 key"
    assert traverse(DATA, "virt_caps") == DATA["virt_caps"]
    assert traverse(DATA, "virt_caps/kvm", delimiter="/") is True


def test_traverse_missing() -> None:
    assert traverse(DATA, "nosuch") is None
    assert traverse(DATA, "ipv4:9", "dflt") == "dflt"
    assert traverse(DATA, "ipv4:x", "dflt") == "dflt"
    assert traverse(DATA, "virt_caps:kvm:deeper", 0) == 0
    assert traverse({"k": None}, "k", "dflt") is None  # an existing None is a value


def test_merge() -> None:
    base = {"os": "Debian", "virt_caps": {"kvm": True, "qemu": False}, "roles": ["a"]}
    merged = merge(base, {"os": "X", "virt_caps": {"qemu": True, "extra": {"n": 1}}, "roles": ["b"]})
    assert merged == {"os": "X", "virt_caps": {"kvm": True, "qemu": True, "extra": {"n": 1}}, "roles": ["b"]}
    assert base["virt_caps"] == {"kvm": True, "qemu": False}  # inputs untouched
