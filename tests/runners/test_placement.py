"""pvc/runners/placement.py: selectors, node limit, overcommit refusal, planned VMs counted."""

from __future__ import annotations

import pytest

from pvc.cluster.records import DaemonState, DomainState, NodeResources, Selector
from pvc.runners.errors import DefinitionError, PlacementError
from pvc.runners.placement import NodeView, VMDemand, make_plan
from pvc.runners.vmxml import demand


def node(name: str, total: int = 8192, used: int = 1024, prov: int = 1024, vcpus: int = 2,
         load: float = 0.5, vms: int = 1, **kw: object) -> NodeView:
    return NodeView(name, NodeResources(memory_total=total, memory_used=used, memory_provisioned=prov,
                                        vcpus_allocated=vcpus, load=load), vms=vms, **kw)  # type: ignore[arg-type]


def vm(name: str, memory: int = 512, selector: Selector = Selector.MEM, limit: tuple[str, ...] = (),
       source: str | None = "hv1", vcpus: int = 1) -> VMDemand:
    return VMDemand(name, source, memory, vcpus, selector, limit)


NODES = [node("hv1"), node("hv2", used=4096, prov=2048, vcpus=8, load=0.1, vms=5),
         node("hv3", used=2048, prov=6000, vcpus=1, load=2.0, vms=0), node("hv4", used=1024, prov=3000,
                                                                           vcpus=4, load=1.0, vms=3)]


@pytest.mark.parametrize(("selector", "want"), [
    (Selector.MEM, "hv4"),       # most free memory (hv1 is the source)
    (Selector.MEMPROV, "hv2"),   # least provisioned
    (Selector.LOAD, "hv2"),      # lowest load
    (Selector.VCPUS, "hv3"),     # fewest vCPUs
    (Selector.VMS, "hv3"),       # fewest VMs
])
def test_selector_picks_its_node(selector: Selector, want: str) -> None:
    plan = make_plan(NODES, [vm("a", selector=selector)], exclude={"hv1"})
    assert plan.ok and [m.target for m in plan.moves] == [want]


def test_node_limit_and_never_the_source() -> None:
    plan = make_plan(NODES, [vm("a", limit=("hv1", "hv3"))])
    assert [m.target for m in plan.moves] == ["hv3"]
    plan = make_plan(NODES, [vm("a", limit=("hv1",))])
    assert not plan.ok and "no eligible node" in plan.unplaced[0].reason


def test_only_ready_alive_running_nodes() -> None:
    nodes = [node("hv1"), node("hv2", alive=False), node("hv3", domain_state=DomainState.FLUSHED),
             node("hv4", daemon_state=DaemonState.DEAD)]
    plan = make_plan(nodes, [vm("a")])
    reason = plan.unplaced[0].reason
    assert "hv2 no live session" in reason and "hv3 domain flushed" in reason and "hv4 daemon dead" in reason


def test_planned_vms_are_counted_and_memory_never_overcommitted() -> None:
    nodes = [node("hv1"), node("hv2", total=4096, used=0, prov=0), node("hv3", total=4096, used=0, prov=0)]
    plan = make_plan(nodes, [vm(f"v{i}", memory=1024) for i in range(8)], exclude={"hv1"})
    assert plan.ok
    targets = [m.target for m in plan.moves]
    assert targets.count("hv2") == 4 and targets.count("hv3") == 4  # spread, then full
    plan = make_plan(nodes, [vm(f"v{i}", memory=1024) for i in range(9)], exclude={"hv1"})
    assert not plan.ok and len(plan.unplaced) == 1
    assert "needs 1024 MiB, the most room is 0 MiB" in plan.unplaced[0].reason
    with pytest.raises(PlacementError, match="v8: needs 1024 MiB"):
        plan.raise_if_unplaced()


def test_big_vm_first_then_the_rest() -> None:
    nodes = [node("hv1"), node("hv2", total=3072, used=0, prov=0), node("hv3", total=2048, used=0, prov=0)]
    plan = make_plan(nodes, [vm("small", memory=1024), vm("big", memory=3072)], exclude={"hv1"})
    assert plan.ok and {m.vm: m.target for m in plan.moves} == {"big": "hv2", "small": "hv3"}
    assert [m.vm for m in plan.moves] == ["small", "big"]  # reported in the order given


def test_fixed_target_is_checked() -> None:
    plan = make_plan(NODES, [vm("a", memory=100_000)], targets={"a": "hv2"})
    assert not plan.ok and "on hv2" in plan.unplaced[0].reason
    plan = make_plan(NODES, [vm("a")], targets={"a": "hv9"})
    assert plan.unplaced[0].reason == "no node hv9"


def test_domain_xml_sizes() -> None:
    assert demand("<domain><name>x</name><memory>262144</memory></domain>").memory == 256
    assert demand("<domain><name>x</name><memory unit='MiB'>128</memory><vcpu>2</vcpu></domain>").vcpus == 2
    for bad in ("<domain><memory>1</memory></domain>", "<vm/>", "<domain><name>x</name></domain>", "<",
                '<!DOCTYPE d [<!ENTITY a "x">]><domain/>'):
        with pytest.raises(DefinitionError):
            demand(bad)
