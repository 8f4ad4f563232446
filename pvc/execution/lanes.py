"""Which worker lane runs each execution module: declared here, in one table, never guessed.

The minion runs jobs in two lanes with separate workers (:class:`pvc.minion.runner.JobRunner`):
the **cluster** lane for the modules the cluster layer calls (VM placement, migration, storage,
networking, fencing), and the **general** lane for everything else, above all operators'
commands (``cmd.*``, ``test.sleep``). Fifty hung ``cmd.run`` jobs then fill only the general
lane, and a ``virt.migrate`` or a ``ceph`` call still finds a free cluster worker.

A module that is not in :data:`LANES` runs in the general lane; a new module the cluster layer
depends on must be added here (``state`` and ``keepalive`` are listed ahead of their arrival).

Example::

    lane_of("virt.list")    # "cluster"
    lane_of("cmd.run")      # "general"
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

CLUSTER = "cluster"
GENERAL = "general"

LANES: Mapping[str, str] = MappingProxyType({
    "virt": CLUSTER,
    "ceph": CLUSTER,
    "network": CLUSTER,
    "frr": CLUSTER,
    "dnsmasq": CLUSTER,
    "grains": CLUSTER,
    "sys": CLUSTER,
    "state": CLUSTER,
    "keepalive": CLUSTER,
    "cmd": GENERAL,
    "test": GENERAL,
    # node configuration and the helpers templates call: an operator's jobs, not the cluster's
    "config": GENERAL,
    "cp": GENERAL,
    "defaults": GENERAL,
    "file": GENERAL,
    "group": GENERAL,
    "log": GENERAL,
    "mine": GENERAL,
    "pillar": GENERAL,
    "pkg": GENERAL,
    "service": GENERAL,
    "slsutil": GENERAL,
    "sysctl": GENERAL,
    "timezone": GENERAL,
    "user": GENERAL,
})


def lane_of(fun: str) -> str:
    """The lane of ``module.function`` (general for unknown modules and malformed names)."""
    return LANES.get(fun.partition(".")[0], GENERAL)
