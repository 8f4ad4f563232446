"""``pvc cluster`` and ``pvc node``: the cluster state in ZooKeeper, read and initialised.

ZooKeeper is found from ``--zk HOSTS``, else ``$PVC_ZOOKEEPER``, else the master config's
``cluster: {zookeeper: "h1:2181,h2:2181"}``; the tree's root from ``--zk-root`` /
``$PVC_ZK_ROOT`` (default ``/pvc``). kazoo is imported only when one of these commands runs.

\b
Examples:
  pvc cluster init --zk 10.0.0.1:2181,10.0.0.2:2181,10.0.0.3:2181
  pvc cluster status --out json
  pvc cluster maintenance on
  pvc node list; pvc node info hv1
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from pvc.cli.options import config_dir

OUT = click.option("--out", type=click.Choice(["human", "json", "yaml"]), default="human",
                   show_default=True, help="Output format.")


def zk_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--zk-root", envvar="PVC_ZK_ROOT", default="/pvc", show_default=True,
                      metavar="PATH", help="Znode under which the cluster lives ($PVC_ZK_ROOT).")(fn)
    fn = click.option("--zk", "zk_hosts", envvar="PVC_ZOOKEEPER", default=None, metavar="HOSTS",
                      help="ZooKeeper hosts, host:port[,host:port...] ($PVC_ZOOKEEPER; default: "
                           "cluster.zookeeper in the master config).")(fn)
    return config_dir(fn)


def resolve_hosts(zk_hosts: str | None, config_dir: str) -> str:
    """``--zk``/``$PVC_ZOOKEEPER`` if given, else the master config's ``cluster.zookeeper``."""
    from pvc.errors import ConfigError

    if zk_hosts:
        return zk_hosts
    try:
        from pvc.config import load_master

        cluster = getattr(load_master(config_dir), "cluster", None)
    except (ConfigError, OSError):
        cluster = None
    if isinstance(cluster, dict):
        hosts = cluster.get("zookeeper")
    else:
        hosts = getattr(cluster, "zookeeper", None)
    if not hosts:
        raise ConfigError("no ZooKeeper configured: pass --zk HOSTS, set PVC_ZOOKEEPER, or add "
                          f"cluster: {{zookeeper: HOSTS}} to {config_dir}/master")
    return str(hosts)


@contextmanager
def _client(zk_hosts: str | None, config_dir: str) -> Iterator[Any]:
    import logging

    from pvc.cluster.client import connect

    logging.getLogger("kazoo").setLevel(logging.ERROR)  # reconnect chatter is not for operators
    with connect(resolve_hosts(zk_hosts, config_dir), timeout=10.0) as cc:
        yield cc


@contextmanager
def _store(zk_hosts: str | None, config_dir: str, root: str) -> Iterator[Any]:
    from pvc.cluster.store import ClusterStore

    with _client(zk_hosts, config_dir) as cc:
        yield ClusterStore.open(cc, root)


def _age(seconds: float | None) -> str:
    from pvc.cli.output import format_duration

    return "never" if seconds is None else format_duration(seconds)


def _emit(data: Any, out: str) -> bool:
    """Print ``data`` as json/yaml and return True, or return False for human output."""
    if out == "human":
        return False
    from pvc.cli.output import dump

    click.echo(dump(data, out))
    return True


@click.group()
def cluster() -> None:
    """Cluster state in ZooKeeper: init, upgrade, status, maintenance."""


@cluster.command(short_help="Create the cluster tree (latest schema).")
@zk_options
@click.option("--overwrite", is_flag=True, help="Erase an existing cluster tree first.")
def init(config_dir: str, zk_hosts: str | None, zk_root: str, overwrite: bool) -> None:
    """Create the cluster tree at the latest schema version (refuses an existing one)."""
    from pvc.cluster.migrations import init_cluster

    with _client(zk_hosts, config_dir) as cc:
        schema = init_cluster(cc, zk_root, overwrite=overwrite)
    click.echo(f"Cluster initialised at {schema.root} (schema v{schema.version}).")


@cluster.command(short_help="Migrate the tree to the latest schema.")
@zk_options
def upgrade(config_dir: str, zk_hosts: str | None, zk_root: str) -> None:
    """Migrate the cluster tree to the schema version this pvc reads, one step at a time."""
    from pvc.cluster.migrations import upgrade as run_upgrade

    with _client(zk_hosts, config_dir) as cc:
        steps = run_upgrade(cc, zk_root)
    for m in steps:
        click.echo(f"v{m.source} -> v{m.target}: {m.description}")
    click.echo("Already at the latest schema." if not steps else "Upgraded.")


@cluster.command(short_help="Schema, primary, maintenance, nodes, VMs.")
@zk_options
@OUT
def status(config_dir: str, zk_hosts: str | None, zk_root: str, out: str) -> None:
    """Schema version, primary master, maintenance, nodes with state and keepalive age, VMs."""
    from pvc.cluster.status import cluster_view

    with _store(zk_hosts, config_dir, zk_root) as store:
        view = cluster_view(store)
    if _emit(view, out):
        return
    p = view["primary"]
    primary = "none recorded" if p is None else f"{p['id']}" + ("" if p["live"] else " (not live)")
    click.echo(f"Cluster {view['root']}: schema v{view['schema_version']}, primary {primary}, "
               f"maintenance {'on' if view['maintenance'] else 'off'}")
    vms = view["vms"]
    states = ", ".join(f"{n} {s}" for s, n in sorted(vms["by_desired_state"].items()))
    click.echo(f"VMs: {vms['total']}" + (f" ({states})" if states else ""))
    _node_table(view["nodes"])


@cluster.command(short_help="Maintenance on (no fencing) or off.")
@zk_options
@click.argument("mode", type=click.Choice(["on", "off"]))
def maintenance(config_dir: str, zk_hosts: str | None, zk_root: str, mode: str) -> None:
    """Turn maintenance on (fencing disabled) or off."""
    with _store(zk_hosts, config_dir, zk_root) as store:
        current = store.config()
        with store.batch() as b:
            b.put_config(dataclasses.replace(current.record, maintenance=mode == "on"),
                         current.version)
    click.echo(f"Maintenance {mode}.")


def _node_table(nodes: list[dict[str, Any]]) -> None:
    click.echo(f"{'NODE':<16} {'STATE':<13} {'DOMAIN':<10} {'VMS':>4} {'MEM FREE/TOTAL':>16} "
               f"{'PROV':>7} {'VCPU':>5} {'LOAD':>5}  KEEPALIVE")
    for n in nodes:
        r = n["resources"]
        click.echo(f"{n['name']:<16} {n['state']:<13} {n['domain_state']:<10} {n['vms']:>4} "
                   f"{r['memory_free']:>7}/{r['memory_total']:<8} {r['memory_provisioned']:>7} "
                   f"{r['vcpus_allocated']:>5} {r['load']:>5.2f}  {_age(n['keepalive_age'])}")


@click.group()
def node() -> None:
    """Hypervisor nodes: daemon state, resources, VMs, keepalive."""


@node.command("list", short_help="Every node: state, VMs, resources, keepalive.")
@zk_options
@OUT
def list_(config_dir: str, zk_hosts: str | None, zk_root: str, out: str) -> None:
    """Every node: state, VM count, memory (MiB), vCPUs, load, keepalive age."""
    from pvc.cluster.status import nodes_view

    with _store(zk_hosts, config_dir, zk_root) as store:
        nodes = nodes_view(store)
    if not _emit(nodes, out):
        _node_table(nodes)


@node.command(short_help="One node in detail.")
@zk_options
@click.argument("name", required=False)
@OUT
def info(config_dir: str, zk_hosts: str | None, zk_root: str, name: str | None, out: str) -> None:
    """One node in detail (default: this host's short name): state, resources, VMs, and its last
    fence (why a fence failed and when it is tried again, or how fast the power-off was confirmed)."""
    from pvc.cluster.codec import to_plain
    from pvc.cluster.status import node_view
    from pvc.runners.fencetree import FenceTree

    name = name or socket.gethostname().split(".")[0]
    with _store(zk_hosts, config_dir, zk_root) as store:
        rec = store.node(name).record
        alive = name in store.alive()
        vms = sorted(v.record.name for v in store.vms() if v.record.node == name)
        fence = FenceTree(store).get(name)
    now = time.time()
    view = {**node_view(rec, alive, len(vms), now), "vm_names": vms,
            "fence": None if fence is None else {**to_plain(fence.record), "summary": fence.record.summary(now)}}
    if _emit(view, out):
        return
    r = view["resources"]
    click.echo(f"Node {name}: {view['state']} (daemon {view['daemon_state']}, "
               f"domain {view['domain_state']}, session {'live' if alive else 'gone'})")
    age = view["keepalive_age"]
    click.echo(f"Keepalive: {'never' if age is None else _age(age) + ' ago'}")
    click.echo(f"Memory (MiB): total {r['memory_total']}, used {r['memory_used']}, "
               f"free {r['memory_free']}, provisioned {r['memory_provisioned']}")
    click.echo(f"vCPUs allocated: {r['vcpus_allocated']}, load {r['load']:.2f}")
    click.echo(f"VMs placed: {len(vms)} {' '.join(vms)}".rstrip())
    click.echo(f"VMs running: {len(r['running_vms'])} {' '.join(r['running_vms'])}".rstrip())
    if view["fence"] is not None:
        click.echo(f"Last fence: {view['fence']['summary']}")


def _node_request(runner: str, config_dir: str, zk_hosts: str | None, zk_root: str, name: str, wait: bool,
                  dry_run: bool, parallel: int, timeout: float, out: str) -> None:
    """Call ``node.flush``/``node.ready``: plan, print it, submit to the primary, follow it."""
    from pvc.cli.runner import PlainProgress, emit, runner_context

    progress = PlainProgress() if out == "human" else None
    with runner_context(config_dir, zk_hosts, zk_root, dry_run, progress) as ctx:
        result = ctx.registry.call(ctx, runner, [name], {"parallel": parallel, "wait": wait, "timeout": timeout})
    if out != "human":
        emit(result, out)
    elif dry_run:
        ok = result["plan"]["ok"]
        click.echo("Dry run: nothing moved." if ok else "Dry run: refused (VMs without a target), nothing moved.")
    elif not wait:
        click.echo(f"Request {result['request']} submitted; follow it with: pvc runner node.request {name}")
    else:
        took = f" in {result['seconds']:.2f} s" if result.get("seconds") is not None else ""
        click.echo(f"{result['kind']} {name}: {result['state']}{took}" +
                   (f" ({result['error']})" if result.get("error") else ""))
    if dry_run and not result["plan"]["ok"] and runner == "node.flush":
        raise SystemExit(1)
    if wait and not dry_run and result.get("state") != "done":
        raise SystemExit(1)


def _request_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--out", type=click.Choice(["human", "json", "yaml"]), default="human", show_default=True,
                      help="Output format.")(fn)
    fn = click.option("--timeout", type=float, default=600.0, show_default=True, help="Seconds --wait waits.")(fn)
    fn = click.option("--parallel", type=click.IntRange(1, 64), default=2, show_default=True,
                      help="Migrations at a time.")(fn)
    fn = click.option("--dry-run", is_flag=True, help="Print the plan only (refuses an overcommit).")(fn)
    fn = click.option("--wait", is_flag=True, help="Follow the request to its end, with progress.")(fn)
    fn = click.argument("name")(fn)
    return zk_options(fn)


@node.command(short_help="Live-migrate every VM away (plan, then move).")
@_request_options
def flush(config_dir: str, zk_hosts: str | None, zk_root: str, name: str, wait: bool, dry_run: bool,
          parallel: int, timeout: float, out: str) -> None:
    """Take NAME out of service: a target for each of its VMs (selector, node limit, no overcommit;
    if one fits nowhere nothing moves), then live migration, --parallel at a time, by the
    coordinator on the primary master."""
    _node_request("node.flush", config_dir, zk_hosts, zk_root, name, wait, dry_run, parallel, timeout, out)


@node.command(short_help="Return to service; bring its VMs back.")
@_request_options
def ready(config_dir: str, zk_hosts: str | None, zk_root: str, name: str, wait: bool, dry_run: bool,
          parallel: int, timeout: float, out: str) -> None:
    """Return NAME to service and migrate back the VMs whose last node it is."""
    _node_request("node.ready", config_dir, zk_hosts, zk_root, name, wait, dry_run, parallel, timeout, out)
