"""Names and addresses of a lab (pure): short enough for the kernel, distinct per directory."""

from __future__ import annotations

from pathlib import Path

from pvc.lab import layout


def test_names_fit_ifnamsiz_and_carry_the_prefix() -> None:
    names = layout.LabNames.for_dir(Path("/tmp/some/lab"), subnet=7)
    assert names.prefix.startswith("pvl") and len(names.prefix) == 8
    for name in (names.bridge, names.veth(1), names.veth(999)):
        assert len(name) <= 15 and name.startswith(names.prefix)
    assert names.netns("hv1") == f"{names.prefix}-hv1"


def test_addresses_and_fixed_macs() -> None:
    names = layout.LabNames("pvlabcde", subnet=7)
    assert names.cidr == "10.213.7.0/24" and names.host_address == "10.213.7.1"
    assert [names.node_address(i) for i in (1, 2, 3)] == ["10.213.7.11", "10.213.7.12", "10.213.7.13"]
    assert names.bridge_mac == "02:00:0a:d5:07:01"
    assert names.node_mac(1) == "02:00:0a:d5:07:0b" and names.veth_mac(1) == "02:01:0a:d5:07:0b"
    assert len({names.node_mac(i) for i in range(1, layout.MAX_NODES + 1)}) == layout.MAX_NODES


def test_prefix_and_subnet_follow_the_directory() -> None:
    a, b = Path("/tmp/lab-a"), Path("/tmp/lab-b")
    assert layout.prefix_for(a) == layout.prefix_for(Path("/tmp/./lab-a"))
    assert layout.prefix_for(a) != layout.prefix_for(b)
    assert 16 <= layout.preferred_subnet(a) < 240
