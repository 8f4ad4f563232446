"""Entry point of the ``pvc`` console script.

Subcommands are imported only when invoked (``LazyGroup``), so ``pvc --version`` and ``pvc
--help`` do not pay for zmq, libsodium or libvirt. Every :class:`~pvc.errors.PvcError`
becomes ``Error: <message>`` and exit code 2, and so does a ``PermissionError`` (``permission
denied: PATH (run as root ...)``); a traceback would mean a bug.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from pvc import __version__
from pvc.cli.options import CONFIG_ENV
from pvc.config import DEFAULT_CONFIG_DIR

# every command, in the order `pvc --help` lists them, with its one-line help
SHORT_HELP = {
    "master": "Run the master daemon in the foreground.",
    "minion": "Run the minion daemon in the foreground.",
    "run": "Run a function on the targeted minions.",
    "call": "Run a function locally on this minion host, without a master.",
    "state": "Apply SLS files (highstate, apply, show_sls, show_top) through the master.",
    "key": "Manage minion keys: list, accept, reject, delete, finger.",
    "job": "Jobs: list, show, active (what runs now), kill.",
    "status": "Minions as the master sees them: connected, last seen, clock, jobs.",
    "event": "Listen to or fire events on the master's event bus.",
    "cluster": "Cluster state in ZooKeeper: init, upgrade, status, maintenance.",
    "node": "Hypervisor nodes: list, info, flush, ready.",
    "vm": "VMs in the cluster: define, list, info, power, migrate, move.",
    "runner": "Run a cluster runner by name (sys.doc lists them).",
    "lab": "A whole cluster on this machine: up, status, power, down.",
    "manpage": "Write the pvc(1) man page generated from this help.",
}


def _command(name: str) -> click.Command:
    """Import one command group only when it is invoked (``pvc --version`` imports none)."""
    match name:
        case "master" | "minion":
            from pvc.cli import daemons
            return daemons.master if name == "master" else daemons.minion
        case "run":
            from pvc.cli.run import run
            return run
        case "call":
            from pvc.cli.call import call
            return call
        case "state":
            from pvc.cli.state import state
            return state
        case "key":
            from pvc.cli.key import key
            return key
        case "job":
            from pvc.cli.job import job
            return job
        case "status":
            from pvc.cli.status import status
            return status
        case "event":
            from pvc.cli.event import event
            return event
        case "cluster" | "node":
            from pvc.cli import cluster
            return cluster.cluster if name == "cluster" else cluster.node
        case "vm":
            from pvc.cli.vm import vm
            return vm
        case "runner":
            from pvc.cli.runner import runner
            return runner
        case "lab":
            from pvc.cli.lab import lab
            return lab
        case "manpage":
            from pvc.cli.manpage import manpage
            return manpage
    raise LookupError(name)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SHORT_HELP)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SHORT_HELP:
            return None
        return _command(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, SHORT_HELP[name]) for name in SHORT_HELP])

    def invoke(self, ctx: click.Context) -> Any:
        from pvc.errors import PvcError

        try:
            return super().invoke(ctx)
        except PvcError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)
        except PermissionError as exc:  # PvcErrors that are also PermissionErrors are caught above
            from pvc.cli.connect import permission_denied

            click.echo(f"Error: {permission_denied(exc.filename or str(exc))}", err=True)
            ctx.exit(2)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="pvc")
@click.option("-c", "--config-dir", envvar=CONFIG_ENV, default=DEFAULT_CONFIG_DIR, show_default=True,
              metavar="DIR", help=f"Directory of the 'master' and 'minion' config files (${CONFIG_ENV}); "
                                  "a subcommand's own -c overrides it.")
@click.pass_context
def cli(ctx: click.Context, config_dir: str) -> None:
    """pvc: run commands on cluster nodes in milliseconds, configure them from state files,
    and keep VMs running through maintenance and failures.

    \b
    Examples:
      pvc run '*' test.ping                 every minion
      pvc run -G os:Debian cmd.run uptime   by grain
      pvc run -C 'web* and G@virt:kvm' virt.list
      pvc key list; pvc key accept 'hv*'
      pvc event listen 'pvc/job/*'

    Colours are off when output is not a terminal or NO_COLOR is set.
    """
    if os.environ.get("NO_COLOR"):
        ctx.color = False


def main() -> None:
    sys.exit(cli.main(prog_name="pvc"))


if __name__ == "__main__":
    main()
