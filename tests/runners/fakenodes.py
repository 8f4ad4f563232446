"""Keepalives for lab nodes whose minions do not (yet) write their own: fixed resources per node.

Until ``pvc lab up`` writes ``cluster:`` into the minion configs, the runner tests register the
lab's nodes in their own cluster tree with these. Also runnable by hand::

    python -m tests.runners.fakenodes --zk 10.213.7.1:2181 --root /pvc-rt hv1 hv2 hv3
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Mapping, Sequence

from pvc.cluster.client import ClusterClient, connect
from pvc.cluster.keepalive import NodeKeepalive
from pvc.cluster.records import NodeResources
from pvc.cluster.store import ClusterStore

DEFAULT = NodeResources(memory_total=4096, memory_used=512, memory_provisioned=0)


class FakeNodes:
    def __init__(self, hosts: str, root: str, nodes: Sequence[str],
                 resources: Mapping[str, NodeResources] | None = None) -> None:
        self.client: ClusterClient = connect(hosts, session_timeout=4.0)
        self.store = ClusterStore.open(self.client, root)
        self.keepalives = [NodeKeepalive(self.store, n, lambda n=n: (resources or {}).get(n, DEFAULT), interval=1.0)
                           for n in nodes]
        for ka in self.keepalives:
            ka.start()

    def close(self) -> None:
        for ka in self.keepalives:
            ka.stop()
        self.client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zk", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("nodes", nargs="+")
    args = parser.parse_args()
    fake = FakeNodes(args.zk, args.root, args.nodes)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    fake.close()


if __name__ == "__main__":
    main()
