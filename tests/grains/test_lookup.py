"""The merge of custom grains (colon-path lookup: tests/test_targeting.py)."""

from __future__ import annotations

from pvc.grains.lookup import merge


def test_merge() -> None:
    base = {"os": "Debian", "virt_caps": {"kvm": True, "qemu": False}, "roles": ["a"]}
    merged = merge(base, {"os": "X", "virt_caps": {"qemu": True, "extra": {"n": 1}}, "roles": ["b"]})
    assert merged == {"os": "X", "virt_caps": {"kvm": True, "qemu": True, "extra": {"n": 1}}, "roles": ["b"]}
    assert base["virt_caps"] == {"kvm": True, "qemu": False}  # inputs untouched
