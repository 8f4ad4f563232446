"""``pvc job``: read the job cache through the master."""

from __future__ import annotations

import time

import click

from pvc.cli.options import config_dir


@click.group()
def job() -> None:
    """Inspect jobs: what ran, who returned what, who did not return and why."""


@job.command("list")
@config_dir
@click.option("-n", "--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--fun", default=None, help="Only jobs of this function.")
@click.option("--out", type=click.Choice(["human", "json", "yaml"]), default="human", show_default=True)
def list_(config_dir: str, limit: int, fun: str | None, out: str) -> None:
    """List recent jobs, newest first."""
    from pvc.cli.connect import open_client
    from pvc.cli.output import dump

    with open_client(config_dir) as client:
        jobs = [j.to_map() for j in client.jobs(limit, fun)]
    if out != "human":
        click.echo(dump(jobs, out))
        return
    click.echo(f"{'JID':<22} {'STARTED':<20} {'FUNCTION':<24} {'TARGET':<20} RETURNED")
    for j in jobs:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(j["started"]))
        failed = f", {j['failed']} failed" if j.get("failed") else ""
        click.echo(f"{j['jid']:<22} {started:<20} {j['fun']:<24} {str(j['tgt'])[:20]:<20} "
                   f"{j['returned']}/{j['minions']}{failed}")


@job.command(short_help="Show one job: every return, and who is missing and why.")
@config_dir
@click.argument("jid")
@click.option("--out", type=click.Choice(["human", "json", "yaml"]), default="human", show_default=True)
def show(config_dir: str, jid: str, out: str) -> None:
    """Show one job: function, target, every return (with how long it took), and the minions
    that did not return or are still running."""
    from pvc.cli.connect import open_client
    from pvc.cli.output import dump, human_return

    with open_client(config_dir) as client:
        view = client.job(jid)
    if out != "human":
        click.echo(dump(view.to_map(), out))
        return
    click.echo(f"Job {view.jid}: {view.fun} {view.args} {view.kwargs or ''}".rstrip())
    click.echo(f"Target: {view.tgt} ({view.tgt_type}), {len(view.minions)} minion(s), "
               f"started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(view.started))}")
    for mid, stored in sorted(view.returns.items()):
        click.echo(human_return(mid, stored.ret.value(), duration=True))
    for mid in sorted(view.running):
        click.echo(f"{mid}: still running")
    for mid, reason in sorted(view.missing.items()):
        if mid not in view.running:
            click.echo(f"{mid}: no return ({reason})")


@job.command(short_help="List the jobs running now, on which minion, for how long.")
@config_dir
@click.argument("target", default="*")
@click.option("--out", type=click.Choice(["human", "json", "yaml"]), default="human", show_default=True)
def active(config_dir: str, target: str, out: str) -> None:
    """List the jobs running now on the minions matching TARGET (a glob), as each minion's
    last heartbeat (every few seconds) said: minion, jid, function, age."""
    from pvc.cli.connect import open_client
    from pvc.cli.output import dump, format_duration

    with open_client(config_dir) as client:
        rows = client.active(target)
    if out != "human":
        click.echo(dump([r.to_map() for r in rows], out))
        return
    if not rows:
        click.echo("No job is running.")
        return
    click.echo(f"{'MINION':<24} {'JID':<22} {'FUNCTION':<28} AGE")
    for r in sorted(rows, key=lambda r: (r.id, -r.age)):
        click.echo(f"{r.id:<24} {r.jid:<22} {r.fun:<28} {format_duration(r.age)}")


@job.command(short_help="End a running job on every minion that runs it.")
@config_dir
@click.argument("jid")
def kill(config_dir: str, jid: str) -> None:
    """End job JID wherever it runs: its processes get SIGTERM, then SIGKILL after the minion's
    kill_grace. A job running Python code that cannot be interrupted is abandoned (its late
    result is dropped). Each minion's return then says which; follow with `pvc job show JID`."""
    from pvc.cli.connect import open_client

    with open_client(config_dir) as client:
        minions = client.kill(jid)
    if not minions:
        click.echo(f"Job {jid} is not running on any minion (nothing to kill).")
        raise SystemExit(1)
    click.echo(f"Kill sent to {len(minions)} minion(s): {', '.join(minions)}; follow with: pvc job show {jid}")
