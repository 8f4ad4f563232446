"""``pvc lab status``: what of a lab runs and what is dead, from lab.json and /proc only.

Fast and side-effect free (no job, no IPMI session): every recorded PID is checked to be alive,
not a zombie, and still the program lab.json says it is; a node's QEMU processes are counted in
its PID namespace.

Example::

    for row in status(Path("/tmp/lab")).rows:
        print(row.kind, row.name, row.pid, row.running)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pvc.lab import bmc, ceph, libvirtd, masters, procs, state, zookeeper
from pvc.lab import node as nodes
from pvc.lab.state import Lab


@dataclass(frozen=True)
class Row:
    kind: str     # zookeeper, ceph, master, bmc, node, libvirtd, minion
    name: str
    pid: int
    running: bool
    detail: str = ""
    powered_off: bool = False  # a node switched off through its BMC: not running, and not dead either

    @property
    def state(self) -> str:
        return "running" if self.running else "off" if self.powered_off else "dead"


@dataclass
class LabStatus:
    lab: Lab
    rows: list[Row] = field(default_factory=list)

    @property
    def all_running(self) -> bool:
        """Nothing is dead (a node powered off through its BMC is off, not dead)."""
        return all(r.state != "dead" for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {"dir": self.lab.dir, "bridge": self.lab.bridge, "subnet": self.lab.subnet,
                "zookeeper": self.lab.zookeeper.hosts, "ceph": asdict(self.lab.ceph) if self.lab.ceph else None,
                "all_running": self.all_running,
                "components": [{**asdict(r), "state": r.state} for r in self.rows], "vms": [asdict(v) for v in self.lab.vms]}


def status(lab_dir: Path) -> LabStatus:
    lab = state.load(Path(lab_dir).resolve())
    rows = [Row("zookeeper", str(s.id), s.pid, zookeeper.is_running(s), f"{lab.host_address}:{s.client_port}")
            for s in lab.zookeeper.servers]
    if lab.ceph:
        rows += [Row("ceph", name, pid, ceph.is_running(lab.ceph, pid), f"mon {lab.ceph.monitor}, pool {lab.ceph.pool}")
                 for name, pid in ceph.daemons(lab.ceph).items()]
    rows += [Row("master", m.name, m.pid, masters.is_running(m), f"{m.address}:{m.ret_port} -c {m.config_dir}")
             for m in lab.masters]
    for n in lab.nodes:
        rows.append(Row("bmc", n.name, n.bmc.pid, bmc.is_running(n.bmc), f"{n.bmc.host}:{n.bmc.port}/udp"))
        on = nodes.is_on(n)
        pids = procs.in_pid_namespace(n.init_pid) if on else []  # the truth: init restarts daemons
        qemus = [p for p in pids if "qemu-system" in procs.cmdline(p)]
        rows.append(Row("node", n.name, n.init_pid, on,
                        f"power {n.power}, {n.address} netns {n.netns}, {len(qemus)} QEMU",
                        powered_off=n.power == "off" and not on))
        if n.power == "on":
            libvirt_pid = procs.find_in(pids, libvirtd.LIBVIRTD)
            minion_pid = procs.find_in(pids, n.minion_config_dir)
            rows.append(Row("libvirtd", n.name, libvirt_pid, bool(libvirt_pid), n.libvirt_uri))
            rows.append(Row("minion", n.name, minion_pid, bool(minion_pid), f"-c {n.minion_config_dir}"))
    return LabStatus(lab=lab, rows=rows)
