"""Grains kept by the master share their strings across minions."""

from __future__ import annotations

from pvc.master.sharedgrains import shared
from pvc.wire.codec import pack, unpack


def _grains(host: str) -> dict:
    return unpack(pack({"os": "Debian", "host": host, "ipv4": ["127.0.0.1", f"10.0.0.{len(host)}"],
                        "storage_caps": {"ceph": False, "ceph_conf": None}, "num_cpus": 2}))


def test_equal_strings_of_two_minions_are_one_object() -> None:
    a, b = _grains("hv1"), _grains("hv2")
    assert a["os"] is not b["os"]  # as decoded: each minion's own copies
    sa, sb = shared(a), shared(b)
    assert sa == a and sb == b
    assert sa["os"] is sb["os"] and sa["ipv4"][0] is sb["ipv4"][0]
    keys_a = {id(k) for k in sa} | {id(k) for k in sa["storage_caps"]}
    keys_b = {id(k) for k in sb} | {id(k) for k in sb["storage_caps"]}
    assert keys_a == keys_b


def test_other_values_are_kept_as_they_are() -> None:
    value = {1: b"raw", "n": 3, "f": 1.5, "none": None, "t": True, "nested": [[{"x": "y"}]]}
    assert shared(value) == value
    assert shared("alone") == "alone" and shared(7) == 7
