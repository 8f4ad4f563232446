"""Cluster state in ZooKeeper: one versioned schema, typed records, keepalive, election.

Layers, each importable without the next (kazoo is imported only by the functions that talk to
ZooKeeper, so ``import pvc.cluster.records`` costs no kazoo):

- :mod:`~pvc.cluster.schema` — logical keys → znode paths, per schema version
- :mod:`~pvc.cluster.records` + :mod:`~pvc.cluster.codec` — frozen records, total JSON decoding
- :mod:`~pvc.cluster.client` — connect with a deadline, flag-only listener, :class:`RetryPolicy`
- :mod:`~pvc.cluster.store` — versioned reads, batched writes that raise on conflict
- :mod:`~pvc.cluster.migrations` — ``init_cluster`` and the ordered upgrade steps
- :mod:`~pvc.cluster.keepalive` — the node's ephemeral + periodic record (run by the minion)
- :mod:`~pvc.cluster.election` — the primary master
- :mod:`~pvc.cluster.status` — read views for the CLI

Dependencies point down: nothing here imports the minion, the master, runners or libvirt.

Example::

    from pvc.cluster.client import connect
    from pvc.cluster.store import ClusterStore

    store = ClusterStore.open(connect("10.0.0.1:2181"))
    [n.record.name for n in store.nodes()]        # ['hv1', 'hv2', 'hv3']
"""
