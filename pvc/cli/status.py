"""``pvc status``: every accepted minion as the master sees it now."""

from __future__ import annotations

import click

from pvc.cli.options import config_dir


@click.command(short_help="Minions as the master sees them: connected, last seen, clock, jobs.")
@config_dir
@click.argument("target", default="*")
@click.option("--out", type=click.Choice(["human", "json", "yaml"]), default="human", show_default=True)
def status(config_dir: str, target: str, out: str) -> None:
    """Show the accepted minions matching TARGET (a glob): connected or not, seconds since the
    master last heard from each, how far its clock is from the master's, the jobs it runs and
    the VMs it holds. Exit 1 if any is not connected."""
    from pvc.cli.connect import open_client
    from pvc.cli.output import dump, format_duration

    with open_client(config_dir) as client:
        rows = sorted(client.status(target), key=lambda r: r.id)
    if out != "human":
        click.echo(dump([r.to_map() for r in rows], out))
    elif not rows:
        click.echo("No accepted minion matches.")
    else:
        click.echo(f"{'MINION':<24} {'STATE':<14} {'LAST SEEN':<10} {'CLOCK':<10} {'JOBS':>4} {'VMS':>4}")
        for r in rows:
            seen = "-" if r.last_seen < 0 else format_duration(r.last_seen)
            skew = f"{r.clock_skew:+.0f} s" if abs(r.clock_skew) >= 1 else "ok"
            state = "connected" if r.connected else "not connected"
            click.echo(f"{r.id:<24} {state:<14} {seen:<10} {skew:<10} {r.jobs:>4} {r.vms:>4}")
    if any(not r.connected for r in rows):
        raise SystemExit(1)
