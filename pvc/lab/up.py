"""``pvc lab up``: bring a whole lab up, in parallel, and return once every minion answers.

Order: preflight (root, programs, DIR free) → lab.json with every name, address and port (so
that ``down`` can clean up a lab that failed half-way) → bridge → with ``--ceph``, the Ceph
cluster starts in the background (:mod:`pvc.lab.ceph`, on the bridge address) → ZooKeeper,
masters and BMCs started together → every node powered on in its own thread → wait for
ZooKeeper, masters, BMCs → every minion answers ``test.ping`` through the first master → with
``--ceph``, wait for the OSD and the pool, and give every node's libvirtd the ceph secret
(:mod:`pvc.lab.cephsecret`) → ``--vms N`` guests through jobs (RBD-backed with ``--ceph``).
A failure tears down what was started and raises the first error. Progress goes to an observer
callback; nothing here prints.

Example::

    report = up(LabOptions(dir=Path("/tmp/lab"), nodes=3, vms=4), progress=print)
    report.seconds, report.lab.node("hv1").libvirt_uri
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pvc.lab import bmc, ceph, cephsecret, guests, layout, libvirtd, masters, netns, preflight, state, zookeeper
from pvc.lab import node as nodes
from pvc.lab.errors import LabError, LabExists, StartFailed
from pvc.lab.state import Ceph, Lab, Node, ZooKeeper

if TYPE_CHECKING:
    from pvc.client import Client

Progress = Callable[[str], None]
MAX_MASTERS = 5
READY_TIMEOUT = 90.0
CLUSTER_ROOT = "/pvc"
SESSION_TIMEOUT = 3.0  # seconds: a dead master or node is noticed this fast
CEPH_POOL = "vms"


@dataclass(frozen=True)
class LabOptions:
    dir: Path
    nodes: int = 3
    masters: int = 1
    zk: int = 1
    vms: int = 0
    ceph: bool = False
    bmc_port: int = 0  # first BMC UDP port (0: any free ports)


@dataclass
class UpReport:
    lab: Lab
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)


def up(opts: LabOptions, progress: Progress = lambda _msg: None) -> UpReport:
    _validate(opts)
    preflight.check_root()
    preflight.check_programs(ceph=opts.ceph)
    lab_dir = opts.dir.resolve()
    t0 = time.monotonic()
    phases: dict[str, float] = {}
    lab = _plan(lab_dir, opts)
    try:
        lab = _start(lab_dir, lab, opts, progress, phases, t0)
    except BaseException:
        progress("start failed: tearing down what was started")
        from pvc.lab.down import down

        down(lab_dir)
        raise
    return UpReport(lab=lab, seconds=time.monotonic() - t0, phases=phases)


def _validate(opts: LabOptions) -> None:
    if not 1 <= opts.nodes <= layout.MAX_NODES:
        raise LabError(f"--nodes must be 1..{layout.MAX_NODES}")
    if not 1 <= opts.masters <= MAX_MASTERS:
        raise LabError(f"--masters must be 1..{MAX_MASTERS}")
    if opts.zk not in (1, 3):
        raise LabError("--zk must be 1 (standalone) or 3 (ensemble)")
    if opts.vms < 0:
        raise LabError("--vms must be >= 0")


def _plan(lab_dir: Path, opts: LabOptions) -> Lab:
    """Choose every name, address and port, and record them before anything starts."""
    if state.exists(lab_dir):
        raise LabExists(f"a lab is already up in {lab_dir} (stop it first: pvc lab down --dir {lab_dir})")
    prefix = layout.prefix_for(lab_dir)
    if netns.host_links(prefix) or netns.netns_list(prefix):
        raise LabExists(f"links or namespaces of a lab in {lab_dir} ({prefix}*) still exist: "
                        f"pvc lab down --dir {lab_dir}")
    lab_dir.mkdir(parents=True, exist_ok=True)
    lab_dir.chmod(0o700)
    names = layout.LabNames(prefix, preflight.free_subnet(layout.preferred_subnet(lab_dir)))
    ports = preflight.free_udp_ports(opts.nodes, opts.bmc_port)
    node_list = []
    for i in range(1, opts.nodes + 1):
        name = layout.node_name(i)
        d = lab_dir / "nodes" / name
        d.mkdir(parents=True, exist_ok=True)
        node_list.append(Node(
            name=name, index=i, netns=names.netns(name), veth=names.veth(i), address=names.node_address(i),
            mac=names.node_mac(i), dir=str(d), minion_config_dir=str(d / "minion"),
            libvirt_uri=libvirtd.unix_uri(d), libvirt_tcp_uri=libvirtd.tcp_uri(names.node_address(i)),
            bmc=bmc.configure(lab_dir, name, i, ports[i - 1])))
    lab = Lab(dir=str(lab_dir), prefix=prefix, bridge=names.bridge, subnet=names.cidr,
              host_address=names.host_address, bridge_mac=names.bridge_mac, started=time.time(),
              zookeeper=ZooKeeper(hosts=""), nodes=tuple(node_list))
    state.save(lab)
    return lab


def _start(lab_dir: Path, lab: Lab, opts: LabOptions, progress: Progress, phases: dict[str, float],
           t0: float) -> Lab:
    address = lab.host_address
    netns.create_bridge(lab.bridge, lab.bridge_mac, f"{address}/24")
    _write_hosts(lab_dir, lab)
    with ThreadPoolExecutor(max_workers=1) as background:
        cephing = None
        if opts.ceph:
            cfg = ceph.configure(lab_dir / "ceph", address, ceph.pick_port(address), pool=CEPH_POOL)
            lab = state.update(lab_dir, lambda lab: dataclasses.replace(lab, ceph=cfg))
            cephing = background.submit(_start_ceph, lab_dir, cfg, progress)
        return _start_cluster(lab_dir, lab, opts, progress, phases, t0, cephing)


def _start_ceph(lab_dir: Path, cfg: Ceph, progress: Progress) -> Ceph:
    """Start the lab's Ceph, record its PIDs (and its port, if the first was lost), wait for the
    OSD and the guests' pool."""
    cfg = ceph.start(cfg, say=progress)
    state.update(lab_dir, lambda lab: dataclasses.replace(lab, ceph=cfg))
    ceph.wait_ready(cfg, mgr=False)  # the mgr (statistics only) comes up meanwhile
    return cfg


def _start_cluster(lab_dir: Path, lab: Lab, opts: LabOptions, progress: Progress, phases: dict[str, float],
                   t0: float, cephing: Future[Ceph] | None) -> Lab:
    address = lab.host_address

    def port(preferred: int) -> int:
        return preflight.tcp_port(address, preferred)

    servers = zookeeper.start_ready(address, zookeeper.configure(lab_dir, address, opts.zk, port), say=progress)
    zk_hosts = zookeeper.hosts(address, servers)
    _init_cluster(zk_hosts)  # before any minion: a node's keepalive needs the tree
    phases["zookeeper"] = time.monotonic() - t0
    section = {"zookeeper": zk_hosts, "root": CLUSTER_ROOT, "session_timeout": SESSION_TIMEOUT,
               "fence": {"bmc": bmc.fence_targets(lab.nodes)}}
    configured = [masters.configure(lab_dir, f"m{i + 1}", i, address, port, section) for i in range(opts.masters)]
    masters.link_fallbacks(configured)
    masters.share_identity(configured)
    started = [masters.start(m) for m in configured]
    bmcs = [dataclasses.replace(n, bmc=dataclasses.replace(n.bmc, pid=bmc.start(n.bmc))) for n in lab.nodes]
    lab = state.update(lab_dir, lambda lab: dataclasses.replace(
        lab, zookeeper=ZooKeeper(hosts=zk_hosts, servers=tuple(servers)),
        masters=tuple(started), nodes=tuple(bmcs)))
    for n in lab.nodes:
        _write_minion_config(lab_dir, lab, n)
    progress(f"bridge {lab.bridge} {lab.subnet}; starting ZooKeeper, {opts.masters} master(s), "
             f"{opts.nodes} BMC(s) and node(s)")
    with ThreadPoolExecutor(max_workers=opts.nodes + 1) as pool:
        kernel = pool.submit(guests.guestkernel.ensure) if opts.vms else None
        booting = [pool.submit(nodes.power_on, lab_dir, n.name) for n in lab.nodes]
        for m in started:
            masters.wait_ready(m)
        phases["masters"] = time.monotonic() - t0
        for n in lab.nodes:
            bmc.wait_ready(n.bmc)
        for future in booting:
            future.result()
    phases["nodes"] = time.monotonic() - t0
    progress(f"nodes booted ({phases['nodes']:.1f} s)")
    from pvc.client import Client

    with Client(started[0].config_dir) as client:
        _wait_minions(client, [n.name for n in lab.nodes])
        phases["minions"] = time.monotonic() - t0
        progress(f"every minion answers test.ping ({phases['minions']:.1f} s)")
        cfg = None
        if cephing is not None:
            cfg = cephing.result()
            key = ceph.client_key(cfg)
            for n in lab.nodes:
                cephsecret.define(n.libvirt_uri, cfg.secret_uuid, key)
            phases["ceph"] = time.monotonic() - t0
            progress(f"ceph up on {cfg.monitor}, pool {cfg.pool}, secret in every libvirtd ({phases['ceph']:.1f} s)")
        if opts.vms:
            assert kernel is not None
            kernel.result()  # built meanwhile (first use on this machine only)
            vms = guests.create(client, [n.name for n in lab.nodes], opts.vms, cfg)
            lab = state.update(lab_dir, lambda lab: dataclasses.replace(lab, vms=tuple(vms)))
            phases["vms"] = time.monotonic() - t0
            progress(f"{opts.vms} VM(s) running ({phases['vms']:.1f} s)")
    libvirtd.save_caps_cache(Path(lab.nodes[0].dir))
    return state.load(lab_dir)


def _write_hosts(lab_dir: Path, lab: Lab) -> None:
    """The /etc/hosts every node sees: node names resolve to bridge addresses (libvirt puts the
    hostname into migration cookies)."""
    lines = ["127.0.0.1 localhost", f"{lab.host_address} {lab.prefix}-host"]
    lines += [f"{n.address} {n.name}" for n in lab.nodes]
    tmp = lab_dir / ".hosts.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(lab_dir / "hosts")


def _write_minion_config(lab_dir: Path, lab: Lab, node: Node) -> None:
    d = Path(node.minion_config_dir)
    d.mkdir(parents=True, exist_ok=True)
    modules: dict[str, Any] = {"virt": {"uri": node.libvirt_uri, "console_dir": str(lab_dir / "console"),
                                        "migration_host": node.address}}
    if lab.ceph:  # what the runners reach RBD images through (ceph.lock_list, ceph.lock_break, ...)
        modules["ceph"] = {"conf": lab.ceph.conf, "keyring": lab.ceph.keyring}
    cfg = {"id": node.name, "master": [f"{m.address}:{m.ret_port}" for m in lab.masters], "root_dir": "root",
           "acceptance_wait_time": 0.5, "heartbeat": 1.0, "grains": {"lab": lab.prefix, "role": "hypervisor"},
           "modules": modules,
           "cluster": {"zookeeper": lab.zookeeper.hosts, "root": CLUSTER_ROOT, "session_timeout": SESSION_TIMEOUT}}
    (d / "minion").write_text(yaml.safe_dump(cfg))


def _init_cluster(hosts: str) -> None:
    from pvc.cluster.client import connect
    from pvc.cluster.migrations import init_cluster

    with connect(hosts, timeout=30.0) as client:
        init_cluster(client, CLUSTER_ROOT)


def _wait_minions(client: Client, names: list[str], timeout: float = READY_TIMEOUT) -> None:
    """Until every node's minion is connected and answers ``test.ping`` through the master."""
    deadline = time.monotonic() + timeout
    want = set(names)
    while True:
        _, connected = client.expected("*")
        if want <= set(connected):
            result = client.run(names, "test.ping", timeout=10)
            answered = {mid for mid, ret in result.returns.items() if ret.ok and ret.data is True}
            if want <= answered:
                return
        else:
            answered = set(connected)
        if time.monotonic() >= deadline:
            raise StartFailed(f"minions {sorted(want - answered)} did not answer test.ping within {timeout:g}s "
                              f"(see DIR/nodes/<node>/minion.out)")
        time.sleep(0.1)
