"""A hypervisor minion's presence in the cluster: its ZooKeeper session and keepalive.

Only when the minion config has ``cluster:``: kazoo (~8 MiB) is imported here and nowhere on
a plain minion's path, so a minion that only runs jobs keeps its small footprint. The
keepalive reports what the node has to offer the placement of VMs — memory (from
/proc/meminfo), load, and the VMs its libvirt runs with their memory and vCPUs (through the
``virt`` module, the same code a job would run).

Example::

    presence = NodePresence.start(cfg, functions)     # None without cluster:
    ...
    presence.stop()                                   # clean stop: "stopped", never fenced
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from pvc.config import MinionConfig
from pvc.minion.functions import MinionFunctions

if TYPE_CHECKING:
    from pvc.cluster.keepalive import NodeKeepalive
    from pvc.cluster.records import NodeResources

log = logging.getLogger(__name__)


def meminfo_mib() -> tuple[int, int]:
    """(total, used) memory of this host in MiB; used = total - available."""
    fields: dict[str, int] = {}
    with open("/proc/meminfo") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if name in ("MemTotal", "MemAvailable"):
                fields[name] = int(rest.split()[0]) // 1024
    total = fields.get("MemTotal", 0)
    return total, total - fields.get("MemAvailable", total)


def node_resources(functions: MinionFunctions, virt: bool) -> NodeResources:
    from pvc.cluster.records import NodeResources

    total, used = meminfo_mib()
    vms: list[dict[str, Any]] = []
    if virt:
        ret = functions.call("virt.list", [], {})
        if ret.ok and isinstance(ret.data, list):
            vms = [vm for vm in ret.data if isinstance(vm, dict)]
        else:
            log.debug("keepalive: virt.list failed: %s", ret.error)
    running = [vm for vm in vms if vm.get("state") == "running"]
    return NodeResources(
        memory_total=total, memory_used=used,
        memory_provisioned=sum(int(vm.get("memory") or 0) for vm in running),
        vcpus_allocated=sum(int(vm.get("vcpus") or 0) for vm in running),
        load=os.getloadavg()[0], running_vms=tuple(sorted(str(vm.get("name")) for vm in running)))


class NodePresence:
    def __init__(self, keepalive: NodeKeepalive, close: Any) -> None:
        self.keepalive = keepalive
        self._close = close

    @classmethod
    def start(cls, cfg: MinionConfig, functions: MinionFunctions) -> NodePresence | None:
        if cfg.cluster is None:
            return None
        from pvc.cluster.client import connect
        from pvc.cluster.keepalive import NodeKeepalive
        from pvc.cluster.store import ClusterStore

        client = connect(cfg.cluster.zookeeper, session_timeout=cfg.cluster.session_timeout)
        store = ClusterStore.open(client, cfg.cluster.root)
        virt = "virt" in cfg.modules
        keepalive = NodeKeepalive(store, cfg.id, lambda: node_resources(functions, virt))
        keepalive.start()
        log.info("%s: in cluster %s%s (keepalive every %gs)", cfg.id, cfg.cluster.zookeeper, cfg.cluster.root,
                 keepalive.interval)
        return cls(keepalive, client.close)

    def stop(self) -> None:
        self.keepalive.stop()
        self._close()
