"""``pvc lab``: a whole cluster on one machine (see :mod:`pvc.lab`). Thin: parse, call, print."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

lab_dir = click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, path_type=Path),
                       metavar="DIR", help="The lab's directory: lab.json, configs, logs, node and BMC state.")


@click.group()
def lab() -> None:
    """A whole pvc cluster on this machine: nodes in namespaces, each with its own libvirtd,
    minion and IPMI BMC, plus ZooKeeper and the masters. Needs root.

    \b
    Examples:
      pvc lab up --dir /tmp/lab --nodes 3 --vms 4
      pvc lab up --dir /tmp/lab --vms 2 --ceph   # guests on RBD images of a memstore Ceph
      ceph -c /tmp/lab/ceph/ceph.conf -s
      pvc -c /tmp/lab/masters/m1 run '*' virt.list
      pvc lab power hv2 off --dir /tmp/lab      # a power cut, through hv2's BMC
      pvc lab status --dir /tmp/lab
      pvc lab down --dir /tmp/lab
    """


@lab.command(short_help="Start a lab in DIR: ZooKeeper, masters, nodes with BMCs, VMs.")
@lab_dir
@click.option("--nodes", type=click.IntRange(1, 200), default=3, show_default=True, help="Hypervisor nodes.")
@click.option("--masters", type=click.IntRange(1, 5), default=1, show_default=True, help="pvc masters.")
@click.option("--zk", type=click.Choice(["1", "3"]), default="1", show_default=True,
              help="ZooKeeper servers: 1 (standalone) or 3 (an ensemble).")
@click.option("--vms", type=click.IntRange(0, 1000), default=0, show_default=True,
              help="Tiny TCG guests (a kernel printing 'tick N' on its serial log), spread over the nodes, "
                   "defined and started through pvc jobs.")
@click.option("--ceph", is_flag=True,
              help="Also a memstore Ceph cluster (mon, mgr, OSD on the bridge address; DIR/ceph/ceph.conf) with "
                   "pool 'vms'; each guest then gets an RBD disk vms/<vm>-disk0, and every node's libvirtd the "
                   "ceph secret. Without it, guests are disk-less.")
@click.option("--bmc-port", type=click.IntRange(0, 65535), default=0, metavar="PORT",
              help="First BMC UDP port on 127.0.0.1 (one per node); default: any free ports.")
def up(directory: Path, nodes: int, masters: int, zk: str, vms: int, ceph: bool, bmc_port: int) -> None:
    """Start a lab in DIR and return once every node's minion answers test.ping.

    Writes DIR/lab.json (what runs where: PIDs, addresses, ports, libvirt URIs, BMCs; a BMC's
    password is in the 0600 file it names). Refuses a DIR that holds a running lab.
    """
    from pvc.lab.up import LabOptions
    from pvc.lab.up import up as start

    report = start(LabOptions(dir=directory, nodes=nodes, masters=masters, zk=int(zk), vms=vms, ceph=ceph,
                              bmc_port=bmc_port), progress=lambda msg: click.echo(f"  {msg}", err=True))
    lab = report.lab
    click.echo(f"lab up in {report.seconds:.1f} s: {lab.dir}")
    click.echo(f"  bridge {lab.bridge} {lab.subnet}, ZooKeeper {lab.zookeeper.hosts}")
    if lab.ceph:
        click.echo(f"  ceph: mon {lab.ceph.monitor}, pool {lab.ceph.pool}   ceph -c {lab.ceph.conf} -s")
    for m in lab.masters:
        click.echo(f"  master {m.name}: {m.address}:{m.ret_port} pid {m.pid}   pvc -c {m.config_dir} run '*' test.ping")
    for n in lab.nodes:
        vms_here = ", ".join(v.name for v in lab.vms if v.node == n.name) or "-"
        click.echo(f"  node {n.name}: {n.address} netns {n.netns} minion pid {n.minion_pid} "
                   f"BMC 127.0.0.1:{n.bmc.port} VMs {vms_here}")
    click.echo(f"  lab.json: {Path(lab.dir) / 'lab.json'}")


@lab.command()
@lab_dir
@click.option("--out", type=click.Choice(["human", "json"]), default="human", show_default=True)
def status(directory: Path, out: str) -> None:
    """What runs and what is dead (from lab.json and /proc). Exit code 1 if anything is dead (a node
    powered off through its BMC is "off", not dead)."""
    from pvc.lab.status import status as read

    st = read(directory)
    if out == "json":
        click.echo(json.dumps(st.to_json(), indent=1))
    else:
        click.echo(f"{st.lab.dir}: bridge {st.lab.bridge} {st.lab.subnet}")
        for r in st.rows:
            colour = {"running": "green", "off": "yellow", "dead": "red"}[r.state]
            state = click.style(r.state.upper() if r.state == "dead" else r.state, fg=colour)
            click.echo(f"  {r.kind:<9} {r.name:<5} {r.pid:>8}  {state:<7}  {r.detail}")
    sys.exit(0 if st.all_running else 1)


@lab.command(short_help="Stop the lab and check nothing is left.")
@lab_dir
@click.option("--rm", "remove", is_flag=True, help="Also delete DIR once everything is down and clean.")
def down(directory: Path, remove: bool) -> None:
    """Stop everything of the lab by PID and namespace, and check nothing is left.

    Prints CLEAN when no process, namespace, mount or link of the lab remains (exit 1 otherwise)."""
    from pvc.lab.down import down as stop

    report = stop(directory, remove=remove)
    click.echo(f"lab down in {report.seconds:.2f} s")
    for err in report.errors:
        click.echo(f"  error: {err}", err=True)
    for item in report.leftovers:
        click.echo(f"LEFT {item}")
    if not report.clean:
        sys.exit(1)
    click.echo("CLEAN: no lab process, namespace, mount, link or route left")


@lab.command(short_help="Switch or read a node's power through its BMC.")
@click.argument("node")
@click.argument("action", type=click.Choice(["on", "off", "status", "reset", "cycle"]))
@lab_dir
def power(node: str, action: str, directory: Path) -> None:
    """Switch or read NODE's power through its BMC (ipmitool, password from its file), as a fence
    would: off kills every process of the node (minion, libvirtd, QEMU) before it returns; on
    returns at once and the node boots in the background."""
    from pvc.lab import bmc, state

    answer = bmc.power(state.load(directory.resolve()).node(node).bmc, action)
    click.echo(f"{node}: {answer}")
