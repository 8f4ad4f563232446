"""The versioned schema, total record decoding, batched writes and the v1 -> v2 migration."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pvc.cluster.client import ClusterClient
from pvc.cluster.codec import decode, encode
from pvc.cluster.errors import (
    MigrationError,
    NotInitialised,
    RecordError,
    RecordNotFound,
    SchemaMismatch,
    TransactionConflict,
)
from pvc.cluster.migrations import MIGRATIONS, init_cluster, upgrade
from pvc.cluster.records import (
    ClusterConfig,
    DaemonState,
    FailedFencePolicy,
    MigrationMethod,
    NodeRecord,
    NodeResources,
    Selector,
    VMRecord,
)
from pvc.cluster.schema import LATEST, Schema
from pvc.cluster.store import ClusterStore
from pvc.errors import InvalidArgument, PvcError

VM = VMRecord("web1", "<domain type='kvm'/>", node="hv1", tags=("prod",),
              migration_method=MigrationMethod.LIVE_OR_SHUTDOWN, selector=Selector.MEMPROV,
              node_limit=("hv1", "hv2"), autostart=True)


def test_paths_come_from_validated_ids() -> None:
    s = Schema.latest("/pvc")
    assert s.path("node", node="hv1") == "/pvc/nodes/hv1"
    assert s.path("vm", vm="web1") == "/pvc/vms/web1"
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(InvalidArgument):
            s.path("vm", vm=bad)
    with pytest.raises(InvalidArgument):
        s.path("vm")  # missing id
    with pytest.raises(InvalidArgument):
        s.path("nosuchkey")
    with pytest.raises(SchemaMismatch):
        Schema.of(99)


def test_records_round_trip() -> None:
    node = NodeRecord("hv1", DaemonState.RUN, resources=NodeResources(65536, 1024, 8192, 4, 0.5, ("web1",)),
                      keepalive=1.5)
    for record in (ClusterConfig(), node, VM):
        assert decode(type(record), encode(record)) == record


@pytest.mark.parametrize("change, message", [
    ({"autostart": 1}, "expected bool"),
    ({"node_limit": "hv1"}, "expected a list"),
    ({"migration_method": "teleport"}, "not one of"),
    ({"selector": 3}, "not one of"),
    ({"tags": [1]}, "expected str"),
    ({"extra": True}, "unknown fields ['extra']"),
    ({"node": "../etc"}, "not allowed"),
])
def test_decoding_is_total(change: dict[str, object], message: str) -> None:
    raw = json.loads(encode(VM))
    raw.update(change)
    with pytest.raises(RecordError, match=message.replace("[", r"\[").replace("]", r"\]")) as err:
        decode(VMRecord, json.dumps(raw).encode())
    assert isinstance(err.value, (PvcError, TypeError))


def test_missing_field_and_garbage_are_errors_not_defaults() -> None:
    raw = json.loads(encode(ClusterConfig()))
    del raw["fence_grace"]
    with pytest.raises(RecordError, match="missing fields \\['fence_grace'\\]"):
        decode(ClusterConfig, json.dumps(raw).encode())
    with pytest.raises(RecordError, match="expected int"):
        decode(NodeResources, b'{"memory_total": true, "memory_used": 0, "memory_provisioned": 0, '
                              b'"vcpus_allocated": 0, "load": 0, "running_vms": []}')
    for data in (b"\xff", b"[]", b"nul", None):
        with pytest.raises(RecordError):
            decode(ClusterConfig, data)


def test_init_read_write(zk_client: ClusterClient, zk_root: str) -> None:
    with pytest.raises(NotInitialised):
        ClusterStore.open(zk_client, zk_root)
    init_cluster(zk_client, zk_root, ClusterConfig(keepalive_interval=1.0, fence_grace=5.0))
    store = ClusterStore.open(zk_client, zk_root)
    assert store.schema.version == LATEST
    assert store.config().record.keepalive_interval == 1.0
    assert store.nodes() == [] and store.vms() == [] and store.primary() is None
    with pytest.raises(MigrationError, match="already exists"):
        init_cluster(zk_client, zk_root)
    with store.batch() as b:  # one transaction: both or neither
        b.put_vm(VM, None)
        b.put_node(NodeRecord("hv1"), None)
    assert store.vm("web1").record == VM and store.vm("web1").version == 0
    assert [n.record.name for n in store.nodes()] == ["hv1"]
    with pytest.raises(RecordNotFound):
        store.vm("nope")
    init_cluster(zk_client, zk_root, overwrite=True)
    assert store.vms() == []


def test_conflicting_batch_raises_and_applies_nothing(cluster_store: ClusterStore) -> None:
    store = cluster_store
    with store.batch() as b:
        b.put_vm(VM, None)
    seen = store.vm("web1")
    with store.batch() as b:  # another writer moves it first
        b.put_vm(dataclasses.replace(VM, node="hv2"), seen.version)
    batch = store.batch()
    batch.put_node(NodeRecord("hv3"), None)
    batch.put_vm(dataclasses.replace(VM, node="hv3"), seen.version)  # stale version
    with pytest.raises(TransactionConflict) as err:
        batch.commit()
    assert err.value.op == 1 and err.value.path.endswith("/vms/web1")
    assert "BadVersion" in err.value.reason
    assert store.vm("web1").record.node == "hv2"
    assert store.nodes() == []  # the first op was rolled back too
    with pytest.raises(TransactionConflict, match="NodeExists"), store.batch() as b:
        b.put_vm(VM, None)  # create of an existing VM


def _v1_tree(cc: ClusterClient, root: str) -> None:
    """What a v1 pvc wrote: VMs under /domains, no failed_fence in the config."""
    v1 = Schema.of(1, root)
    config = json.loads(encode(ClusterConfig(maintenance=True)))
    del config["failed_fence"]
    cc.zk.create(v1.path("schema_version"), b"1", makepath=True)
    cc.zk.create(v1.path("config"), json.dumps(config).encode())
    for key in ("nodes", "alive", "vms", "networks", "storage", "locks", "election"):
        cc.zk.create(v1.path(key))
    for name in ("web1", "db1"):
        cc.zk.create(v1.path("vm", vm=name), encode(dataclasses.replace(VM, name=name)))


def test_v1_tree_upgrades_to_v2(zk_client: ClusterClient, zk_root: str) -> None:
    _v1_tree(zk_client, zk_root)
    with pytest.raises(SchemaMismatch, match="v1"):
        ClusterStore.open(zk_client, zk_root)
    steps = upgrade(zk_client, zk_root)
    assert [(m.source, m.target) for m in steps] == [(1, 2)]
    store = ClusterStore.open(zk_client, zk_root)
    assert sorted(v.record.name for v in store.vms()) == ["db1", "web1"]
    assert store.vm("web1").record == VM
    assert store.config().record.failed_fence is FailedFencePolicy.NONE
    assert store.config().record.maintenance is True
    assert not zk_client.zk.exists(Schema.of(1, zk_root).path("vms"))
    assert upgrade(zk_client, zk_root) == []  # idempotent at the latest version


def test_failed_step_leaves_the_old_tree(zk_client: ClusterClient, zk_root: str) -> None:
    _v1_tree(zk_client, zk_root)
    v1 = Schema.of(1, zk_root)
    zk_client.zk.create(v1.path("vms").replace("/domains", "/vms"))  # something in v2's way
    with pytest.raises(TransactionConflict, match="NodeExists"):
        upgrade(zk_client, zk_root)
    assert zk_client.zk.get(v1.path("schema_version"))[0] == b"1"
    assert len(zk_client.zk.get_children(v1.path("vms"))) == 2


def test_registry_refuses_gaps_and_duplicates() -> None:
    with pytest.raises(MigrationError, match="no migration from v2"):
        MIGRATIONS.plan(2, 3)
    with pytest.raises(MigrationError, match="newer"):
        MIGRATIONS.plan(3, 2)
    with pytest.raises(MigrationError, match="already registered"):
        MIGRATIONS.step(1, "again")(lambda *a: None)
