"""``pvc vm``: VMs in the cluster — define, list, info, start/shutdown/stop/restart/remove,
migrate/unmigrate/move. Thin: each command calls the ``vm.*`` runner of the same name.

\b
Examples:
  pvc vm define vm1.xml --selector memprov --node-limit hv1,hv2
  pvc vm define --name vm2 --vcpus 2 --memory 1024 --node hv3
  pvc vm list --node hv1 --out json
  pvc vm migrate vm1 --node hv2; pvc vm unmigrate vm1
"""

from __future__ import annotations

from typing import Any

import click

from pvc.cli.cluster import zk_options
from pvc.cli.runner import emit, runner_context

OUT = click.option("--out", type=click.Choice(["human", "json", "yaml"]), default="human", show_default=True,
                   help="Output format.")


def _call(config_dir: str, zk_hosts: str | None, zk_root: str, name: str, *args: Any, test: bool = False,
          **kwargs: Any) -> Any:
    with runner_context(config_dir, zk_hosts, zk_root, test) as ctx:
        return ctx.registry.call(ctx, name, list(args), kwargs)


@click.group()
def vm() -> None:
    """VMs in the cluster: desired state in ZooKeeper, placed on one node at a time."""


def _spec_xml(name: str, vcpus: int, memory: int, console_dir: str, migration: str) -> str:
    """The domain XML of a typed spec, rendered here (runners never import the libvirt adapter)."""
    from pvc.virt.domain import domain_xml, parse_spec

    return domain_xml(parse_spec({"name": name, "vcpus": vcpus, "memory": memory, "migration": migration}),
                      console_dir)


@vm.command(short_help="Define a VM (XML file or spec) and start it on a node.")
@zk_options
@click.argument("xml_file", type=click.File("r"), required=False)
@click.option("--name", help="VM name (spec form, instead of XML_FILE).")
@click.option("--vcpus", type=click.IntRange(1, 1024), default=1, show_default=True)
@click.option("--memory", type=click.IntRange(16), default=512, show_default=True, help="MiB.")
@click.option("--console-dir", default="/var/log/pvc/console", show_default=True,
              help="Where the node writes the serial console (spec form).")
@click.option("--node", default=None, help="Place it here (checked for room) instead of by selector.")
@click.option("--selector", type=click.Choice(["mem", "memprov", "load", "vcpus", "vms"]), default=None,
              help="How to pick its node (default: the cluster's).")
@click.option("--node-limit", default="", metavar="A,B", help="Only these nodes, for placement and migration.")
@click.option("--migration-method", type=click.Choice(["live", "live-or-shutdown", "shutdown"]), default=None)
@click.option("--autostart", is_flag=True, help="Start it when its node becomes ready.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--no-start", is_flag=True, help="Define only.")
@click.option("--dry-run", is_flag=True, help="Show the chosen node only.")
@OUT
def define(config_dir: str, zk_hosts: str | None, zk_root: str, xml_file: Any, name: str | None, vcpus: int,
           memory: int, console_dir: str, node: str | None, selector: str | None, node_limit: str,
           migration_method: str | None, autostart: bool, tags: tuple[str, ...], no_start: bool, dry_run: bool,
           out: str) -> None:
    """Define a VM from XML_FILE, or from --name/--vcpus/--memory, record it in ZooKeeper and
    start it on --node or on the node its selector picks (never overcommitting memory)."""
    if (xml_file is None) == (name is None):
        raise click.UsageError("give either XML_FILE or --name (with --vcpus/--memory)")
    xml = xml_file.read() if xml_file is not None else _spec_xml(str(name), vcpus, memory, console_dir,
                                                                 migration_method or "live")
    limit = [n.strip() for n in node_limit.split(",") if n.strip()]
    result = _call(config_dir, zk_hosts, zk_root, "vm.define", xml, test=dry_run, node=node, selector=selector,
                   node_limit=limit, migration_method=migration_method, autostart=autostart, tags=list(tags),
                   start=not no_start)
    if out != "human":
        emit(result, out)
    elif dry_run:
        click.echo(f"{result['name']} would go to {result['node']} ({result['memory']} MiB, {result['vcpus']} vCPU)")
    else:
        click.echo(f"{result['name']} defined on {result['node']} ({result['memory']} MiB, {result['vcpus']} vCPU), "
                   f"{'started' if not no_start else 'not started'}")


@vm.command("list", short_help="Every VM: node, state, size.")
@zk_options
@click.option("--node", default=None)
@click.option("--state", default=None, help="Desired or actual state (start, running, stopped...).")
@click.option("--tag", default=None)
@OUT
def list_(config_dir: str, zk_hosts: str | None, zk_root: str, node: str | None, state: str | None,
          tag: str | None, out: str) -> None:
    """Every VM with its node, last node, desired and actual state, memory and vCPUs."""
    rows = _call(config_dir, zk_hosts, zk_root, "vm.list", node=node, state=state, tag=tag)
    if out != "human":
        emit(rows, out)
        return
    click.echo(f"{'NAME':<16} {'NODE':<10} {'LAST':<10} {'DESIRED':<9} {'STATE':<9} {'MEM':>6} {'VCPU':>4}  TAGS")
    for r in rows:
        click.echo(f"{r['name']:<16} {r['node'] or '-':<10} {r['last_node'] or '-':<10} {r['desired_state']:<9} "
                   f"{r['state']:<9} {r['memory']:>6} {r['vcpus']:>4}  {','.join(r['tags'])}")
    for r in rows:  # why a VM failed or was left stopped (crash loop, no room after a fence)
        if r.get("failure_reason"):
            click.echo(f"{r['name']}: {r['failure_reason']}")


@vm.command(short_help="One VM in detail.")
@zk_options
@click.argument("name")
@OUT
def info(config_dir: str, zk_hosts: str | None, zk_root: str, name: str, out: str) -> None:
    """One VM: placement, states, policy, what its node's libvirt says; --out json adds the XML."""
    row = _call(config_dir, zk_hosts, zk_root, "vm.info", name)
    if out == "human":
        row = {k: v for k, v in row.items() if k != "definition"}
    emit(row, out)


def _simple(runner: str, help_text: str, **extra: Any) -> click.Command:
    @zk_options
    @click.argument("name")
    @OUT
    def command(config_dir: str, zk_hosts: str | None, zk_root: str, name: str, out: str) -> None:
        emit(_call(config_dir, zk_hosts, zk_root, runner, name, **extra), out)

    command.__doc__ = help_text
    return click.command(runner.split(".")[1], short_help=help_text.split(".")[0] + ".")(command)


vm.add_command(_simple("vm.start", "Start the VM on its node."))
vm.add_command(_simple("vm.shutdown", "Ask the guest to power off (ACPI)."))
vm.add_command(_simple("vm.stop", "Power the VM off at once."))
vm.add_command(_simple("vm.restart", "Shut the VM down and start it again."))
vm.add_command(_simple("vm.remove", "Stop, undefine and forget the VM (disks stay)."))
vm.add_command(_simple("vm.unmigrate", "Bring a migrated VM back to its last node."))


@vm.command(short_help="Move a VM for a while (last node kept).")
@zk_options
@click.argument("name")
@click.option("--node", default=None, help="Target (default: what its selector picks).")
@click.option("--method", type=click.Choice(["live", "live-or-shutdown", "shutdown"]), default=None)
@OUT
def migrate(config_dir: str, zk_hosts: str | None, zk_root: str, name: str, node: str | None, method: str | None,
            out: str) -> None:
    """Migrate NAME to --node or where its selector says; `pvc vm unmigrate` brings it back."""
    emit(_call(config_dir, zk_hosts, zk_root, "vm.migrate", name, node=node, method=method), out)


@vm.command(short_help="Move a VM for good to another node.")
@zk_options
@click.argument("name")
@click.option("--node", required=True)
@click.option("--method", type=click.Choice(["live", "live-or-shutdown", "shutdown"]), default=None)
@OUT
def move(config_dir: str, zk_hosts: str | None, zk_root: str, name: str, node: str, method: str | None,
         out: str) -> None:
    """Move NAME to --node; that becomes its home (last node cleared)."""
    emit(_call(config_dir, zk_hosts, zk_root, "vm.move", name, node, method=method), out)
