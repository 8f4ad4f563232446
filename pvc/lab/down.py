"""``pvc lab down``: stop everything by PID and namespace, then prove nothing is left.

Nodes are powered off in parallel (link cut, SIGKILL of the node's init, namespace deleted), then
the masters, BMCs and Ceph (OSD first) stop (SIGTERM, SIGKILL after a grace), ZooKeeper once the
masters are gone, then the bridge goes.
:func:`leftovers` then looks for anything of this lab outside DIR: a recorded PID still running,
a process whose command line names DIR, a namespace or link with the lab's prefix, a mount naming
DIR or the prefix, a route into the lab's subnet. Only PIDs recorded in lab.json, found in the
lab's own namespaces, or naming DIR on their command line are ever signalled. lab.json becomes
``lab.json.down`` (kept for post-mortems), so ``up`` can reuse DIR.

Example::

    report = down(Path("/tmp/lab"))
    assert report.clean, report.leftovers
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pvc.lab import bmc, ceph, libvirtd, masters, netns, procs, state, zookeeper
from pvc.lab import node as nodes
from pvc.lab.errors import LabError
from pvc.lab.state import Lab

# a process naming DIR on its command line is the lab's only if it is one of these
LAB_PROGRAMS = ("pvc.lab.", "pvc.minion", "pvc.cli.main master", "pvc.cli.main minion", "pvc.runners.coordinator",
                "ipmi_sim", "QuorumPeerMain",
                libvirtd.LIBVIRTD, "unshare", "qemu-system", *ceph.PROGRAMS)


@dataclass
class DownReport:
    seconds: float
    leftovers: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.leftovers


def down(lab_dir: Path, remove: bool = False) -> DownReport:
    lab_dir = Path(lab_dir).resolve()
    t0 = time.monotonic()
    lab = state.load(lab_dir)
    errors: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, len(lab.nodes))) as pool:
        for name, future in [(n.name, pool.submit(nodes.power_off, lab_dir, n.name)) for n in lab.nodes]:
            try:
                future.result()
            except LabError as exc:
                errors.append(f"{name}: {exc}")
    lab = state.load(lab_dir)
    with ThreadPoolExecutor(max_workers=4) as pool:
        # masters before ZooKeeper: a master's coordinator stops in ~2 s while ZooKeeper answers,
        # and hangs in kazoo's retries (SIGKILL after 5 s, the coordinator orphaned) once it is gone
        stops: list[Future[bool]] = [pool.submit(masters.stop, m) for m in lab.masters]
        stops += [pool.submit(bmc.stop, n.bmc) for n in lab.nodes]
        if lab.ceph:
            stops.append(pool.submit(ceph.stop, lab.ceph))
        for stopped in stops[:len(lab.masters)]:
            stopped.result()
        stops += [pool.submit(zookeeper.stop, s) for s in lab.zookeeper.servers]
        for stopped in stops:
            if not stopped.result():
                errors.append("a process did not stop")
    for pid in _lab_processes(lab_dir):  # e.g. a BMC's boot still in flight
        procs.signal_pid(pid, signal.SIGKILL)
    procs.wait_dead(_lab_processes(lab_dir), 5.0)
    for name in netns.netns_list(lab.prefix):  # a namespace no node record names any more
        for pid in netns.netns_pids(name):
            procs.signal_pid(pid, signal.SIGKILL)
        netns.delete_netns(name)
    for link in [lab.bridge, *netns.host_links(lab.prefix)]:
        netns.delete_link(link)
    report = DownReport(seconds=time.monotonic() - t0, leftovers=leftovers(lab), errors=errors)
    os.replace(state.path(lab_dir), lab_dir / f"{state.STATE_FILE}.down")
    if remove and report.clean:
        shutil.rmtree(lab_dir)
    return report


def recorded_pids(lab: Lab) -> dict[int, str]:
    """Every PID lab.json records, with the marker its command line must contain to be ours."""
    pids = {s.pid: zookeeper.marker(s) for s in lab.zookeeper.servers}
    pids.update({m.pid: masters.marker(m) for m in lab.masters})
    if lab.ceph:
        pids.update({pid: ceph.marker(lab.ceph) for pid in ceph.daemons(lab.ceph).values()})
    for n in lab.nodes:
        pids.update({n.bmc.pid: bmc.IPMI_SIM, n.init_pid: nodes.INIT_MODULE, n.unshare_pid: "unshare",
                     n.libvirtd_pid: libvirtd.LIBVIRTD, n.minion_pid: n.minion_config_dir})
    pids.pop(0, None)
    return pids


def leftovers(lab: Lab) -> list[str]:
    """What of this lab still exists outside DIR (empty: clean)."""
    running = {pid for pid, marker in recorded_pids(lab).items() if procs.alive(pid, marker)}
    running.update(_lab_processes(Path(lab.dir)))
    left = [f"process {pid} ({procs.cmdline(pid)[:80]})" for pid in sorted(running)]
    left += [f"netns {name}" for name in netns.netns_list(lab.prefix)]
    left += [f"link {name}" for name in netns.host_links(lab.prefix)]
    with open("/proc/mounts") as fh:
        left += [f"mount {line.split()[1]}" for line in fh if lab.dir in line or lab.prefix in line]
    left += [f"route {line.strip()}" for line in netns.routes_to(lab.subnet.rsplit(".", 1)[0] + ".")]
    return left


def _lab_processes(lab_dir: Path) -> list[int]:
    """Live processes naming ``lab_dir`` on their command line that are lab programs (never this
    process or one of its ancestors, e.g. the shell that runs ``pvc lab down --dir DIR``)."""
    spared = _ancestors()
    found = []
    for pid in procs.all_pids():
        if pid in spared:
            continue
        line = procs.cmdline(pid)
        if str(lab_dir) in line and any(p in line for p in LAB_PROGRAMS) and procs.alive(pid):
            found.append(pid)
    return found


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_bytes()
            pid = int(stat[stat.rfind(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids
