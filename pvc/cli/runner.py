"""``pvc runner NAME [ARGS...]``: call a runner (cluster orchestration) by name; ``pvc runner
sys.doc`` lists them. The ``pvc vm`` and ``pvc node flush|ready`` nouns call the same runners.

Runners reach ZooKeeper (``--zk``, ``$PVC_ZOOKEEPER`` or the master's ``cluster.zookeeper``) and
the nodes through the local master (``-c DIR``).

\b
Examples:
  pvc runner sys.doc node
  pvc runner node.flush hv2 wait=true parallel=4
  pvc runner vm.list node=hv1 --out json
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import click

from pvc.cli.cluster import _client, zk_options
from pvc.cli.options import FunctionCommand, parse_call_args


@contextmanager
def runner_context(config_dir: str, zk_hosts: str | None, zk_root: str, test: bool = False,
                   progress: Any = None, zookeeper: bool = True) -> Iterator[Any]:
    """A RunnerContext for one CLI call: ZooKeeper now (unless ``zookeeper`` is False), the
    master's client on first job."""
    from pvc.client import Client
    from pvc.cluster.store import ClusterStore
    from pvc.runners.context import RunnerContext
    from pvc.runners.jobs import NodeJobs
    from pvc.runners.registry import default_registry

    jobs = NodeJobs(lambda: Client(config_dir))
    log = logging.getLogger("pvc.runners")
    roots = _file_roots(config_dir)
    if not zookeeper:  # state.orchestrate without a cluster: its steps are jobs (and runners that need none)
        try:
            yield RunnerContext(None, jobs, log, jobs.fire, test=test,  # type: ignore[arg-type]
                                registry=default_registry(), progress=progress, file_roots=roots)
        finally:
            jobs.close()
        return
    with _client(zk_hosts, config_dir) as cc:
        try:
            yield RunnerContext(ClusterStore.open(cc, zk_root), jobs, log, jobs.fire, test=test,
                                registry=default_registry(), progress=progress, file_roots=roots)
        finally:
            jobs.close()


def _file_roots(config_dir: str) -> Mapping[str, tuple[str, ...]]:
    """The master's file_roots (state.orchestrate reads its SLS there), or none without a config."""
    from pvc.config import load_master
    from pvc.errors import ConfigError

    try:
        return load_master(config_dir).file_roots
    except ConfigError:
        return {}


def _has_zookeeper(zk_hosts: str | None, config_dir: str) -> bool:
    from pvc.cli.cluster import resolve_hosts
    from pvc.errors import ConfigError

    try:
        resolve_hosts(zk_hosts, config_dir)
    except ConfigError:
        return False
    return True


def emit(value: Any, out: str) -> None:
    if out == "human":
        from pvc.cli.output import nested

        click.echo("\n".join(nested(value)))
        return
    from pvc.cli.output import dump

    click.echo(dump(value, out))


class PlainProgress:
    """Plan and per-VM progress of a flush/ready as lines on stderr (an observer of the runner)."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0

    def __call__(self, what: str, data: Mapping[str, Any]) -> None:
        if what == "plan":
            self.total = len(data["moves"])
            click.echo(f"Plan: {data['kind']} {data['node']}: {self.total} VM(s)", err=True)
            for m in data["moves"]:
                click.echo(f"  {m['vm']:<16} {m['source'] or '-':>8} -> {m['target']:<8} {m['memory']:>6} MiB "
                           f"{m['vcpus']} vCPU", err=True)
            for u in data["unplaced"]:
                click.echo(click.style(f"  {u['vm']:<16} no target: {u['reason']}", fg="red"), err=True)
        elif what == "state":
            owner = f" (coordinator {data['owner']})" if data.get("owner") else ""
            click.echo(f"{data['node']}: {data['state']}{owner}", err=True)
        elif what == "step":
            state = data["state"]
            if state == "done":
                self.done += 1
                how = [str(data.get("method") or "")]
                if data.get("duration"):
                    how.append(f"{data['duration']:.2f} s")
                if data.get("downtime_ms") is not None:
                    how.append(f"downtime {data['downtime_ms']} ms")
                detail = f" ({', '.join(h for h in how if h)})"
            elif state == "failed":
                detail = f": {data.get('error')}"
            else:
                detail = ""
            if state != "planned":
                click.echo(f"[{self.done}/{self.total}] {data['vm']} {data['source'] or '-'} -> {data['target']}: "
                           f"{state}{detail}", err=True)


@click.command(cls=FunctionCommand, context_settings={"ignore_unknown_options": False})
@zk_options
@click.option("--test", "test", is_flag=True, help="Dry run: plan only, change nothing.")
@click.option("--out", type=click.Choice(["human", "json", "yaml"]), default="human", show_default=True)
@click.argument("name")
@click.argument("args", nargs=-1)
def runner(config_dir: str, zk_hosts: str | None, zk_root: str, test: bool, out: str, name: str,
           args: tuple[str, ...]) -> None:
    """Run runner NAME with ARGS (positional, or key=value read as YAML scalars).

    \b
    Examples:
      pvc runner sys.doc
      pvc runner node.flush hv2 wait=true --test
      pvc runner vm.migrate vm1 node=hv3
    """
    call_args, kwargs = parse_call_args(args)
    if name.startswith("sys."):  # introspection needs neither ZooKeeper nor the master
        from pvc.runners.context import RunnerContext, log_events
        from pvc.runners.jobs import NodeJobs, no_jobs
        from pvc.runners.registry import default_registry

        log = logging.getLogger("pvc.runners")
        ctx = RunnerContext(None, NodeJobs(no_jobs), log, log_events(log),  # type: ignore[arg-type]
                            registry=default_registry())
        result = ctx.registry.call(ctx, name, call_args, kwargs)  # type: ignore[union-attr]
        _print(name, result, out)
        return
    # an orchestration needs ZooKeeper only when one is configured (its runner steps may use it)
    zookeeper = not name.startswith("state.") or _has_zookeeper(zk_hosts, config_dir)
    with runner_context(config_dir, zk_hosts, zk_root, test, PlainProgress() if out == "human" else None,
                        zookeeper) as ctx:
        result = ctx.registry.call(ctx, name, call_args, kwargs)
    _print(name, result, out)


def _print(name: str, result: Any, out: str) -> None:
    if name == "sys.doc" and out == "human" and isinstance(result, dict):
        click.echo("\n\n".join(str(v) for v in result.values()))
        return
    from pvc.cli.highstate import highstate_text, is_state_data

    if is_state_data(result):  # state.orchestrate: Salt's highstate output; exit 1 if a step failed
        from pvc.states.saltshape import failed

        if out == "human":
            click.echo(highstate_text(name, result))
        else:
            emit(result, out)
        raise SystemExit(1 if failed(result) else 0)
    emit(result, out)
