"""``pvc run``: publish a job to the targeted minions and print their returns."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from pvc.cli.options import FunctionCommand, config_dir, function_arguments, out, target_options, target_type
from pvc.errors import InvalidArgument

# a minion still working on the job when the wait ends: the job goes on (pvc job show JID)
from pvc.results import STILL_RUNNING

if TYPE_CHECKING:
    from pvc.cli.progress import Progress
    from pvc.client import ReturnStream
    from pvc.results import JobResult

NO_SUCH_MINION = "no such minion"


def parse_batch(text: str, total: int) -> int:
    """``--batch 5`` or ``--batch 20%`` of the targeted minions (at least 1)."""
    try:
        if text.endswith("%"):
            pct = float(text[:-1])
            if not 0 < pct <= 100:
                raise ValueError
            return max(1, int(total * pct / 100))
        n = int(text)
        if n < 1:
            raise ValueError
        return n
    except ValueError:
        raise InvalidArgument(f"--batch {text!r}: use a positive count (5) or a percentage (20%)") from None


@click.command(cls=FunctionCommand)
@config_dir
@target_options
@click.option("-t", "--timeout", type=click.FloatRange(0, 86400, min_open=True), default=None,
              help="Seconds to wait for returns (default: master's timeout, 5).")
@out
@click.option("--async", "async_", is_flag=True, help="Publish, print the jid and exit.")
@click.option("-b", "--batch", default=None, metavar="N|N%", help="Run on N minions (or N% of them) at a time.")
@click.option("--progress/--no-progress", default=None,
              help="Show done/total and failures on stderr as returns arrive "
                   "[default: with --batch when stderr is a terminal].")
@click.argument("target")
@click.argument("fun")
@click.argument("args", nargs=-1)
def run(config_dir: str, pcre: bool, list_: bool, grain: bool, compound: bool, nodegroup: bool,
        timeout: float | None, out: str, async_: bool, batch: str | None, progress: bool | None,
        target: str, fun: str, args: tuple[str, ...]) -> None:
    """Run FUN on the minions matched by TARGET (a glob by default).

    \b
    Examples:
      pvc run '*' test.ping
      pvc run -L hv1,hv2 cmd.run 'uptime; df -h /'
      pvc run -G virt:kvm virt.list --out json
      pvc run -C 'G@os:Debian and hv*' cmd.run_all '["systemctl", "status"]' timeout=10
      pvc run '*' test.sleep 1 --batch 25%
      pvc run '*' test.arg -- -1 --not-an-option

    Arguments of the form key=value become keyword arguments; values are read as YAML.
    Options of pvc may come anywhere; an argument that starts with '-' goes after '--'.
    A cmd.run/run_all/retcode command given as text runs through /bin/sh, as in Salt;
    python_shell=False or an argv list ('["ls", "-l"]') runs it without a shell.

    Returns print sorted by minion id. Exit code 0 only if every targeted minion returned
    success; minions that did not return are listed with the reason (not connected, timed
    out, no such minion). If the wait ends while the job still runs, or on Ctrl-C, the jid
    is printed: follow the job with `pvc job show JID`.
    """
    from pvc.cli.connect import open_client
    from pvc.wire.local import validate_fun

    tgt_type = target_type(pcre, list_, grain, compound, nodegroup)
    validate_fun(fun)
    pos, kw = function_arguments(fun, args)
    show_progress = progress if progress is not None else (batch is not None and sys.stderr.isatty())
    with open_client(config_dir) as client:
        if async_:
            jid = client.run_async(target, fun, pos, kw, tgt_type, timeout, stream=False)
            click.echo(f"Executed command with job ID: {jid}" if out == "human" else jid)
            return
        try:
            if batch is not None:
                from pvc.batch import run_batch

                _, connected = client.expected(target, tgt_type)
                returns = run_batch(client, target, tgt_type, fun, pos, kw, timeout,
                                    parse_batch(batch, len(connected)))
                total = len(connected)
            else:
                returns = client.iter_run(target, fun, pos, kw, tgt_type, timeout)
                total = len(returns.result.minions)
        except KeyboardInterrupt:
            click.echo("Interrupted while publishing: the job may have started; see `pvc job list`.", err=True)
            sys.exit(130)
        from pvc.cli.progress import Progress

        _print(returns, out, Progress(total, enabled=show_progress),
               _listed(target) if tgt_type == "list" else [], batch is not None)


def _listed(target: str) -> list[str]:
    return [mid.strip() for mid in target.split(",") if mid.strip()]


def _print(stream: ReturnStream, out: str, progress: Progress, listed: list[str], batch: bool) -> None:
    """Collect the returns (with progress), then print them sorted by id, then who is missing
    and why; exit 0, 1 (a failure or a missing return), 2 (nothing matched) or 130 (Ctrl-C)."""
    result = stream.result
    interrupted = False
    try:
        for mid, ret in stream:
            progress.update(mid, ret)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
    _print_returns(result, out)
    if interrupted:
        _interrupted(result, batch)
    unknown = [mid for mid in listed if mid not in result.minions]
    for mid in unknown:
        click.echo(f"{mid}: {NO_SUCH_MINION}", err=True)
    if not result.minions:
        click.echo("No minions matched the target. No command was sent.", err=True)
        sys.exit(2)
    running = sorted(mid for mid, reason in result.missing.items() if reason == STILL_RUNNING)
    for mid, reason in sorted(result.missing.items()):
        click.echo(f"{mid}: {STILL_RUNNING}" if reason == STILL_RUNNING else f"{mid}: no return ({reason})", err=True)
    if running:
        click.echo(f"Job {result.jid} is still running on {len(running)} minion(s); "
                   f"follow with: pvc job show {result.jid}", err=True)
    sys.exit(0 if result.ok and not unknown else 1)


def _print_returns(result: JobResult, out: str) -> None:
    from pvc.cli.output import dump

    if out != "human":
        click.echo(dump(result.salt_shape(), out))
        return
    from pvc.cli.highstate import print_state_returns

    print_state_returns(result.returns)  # state runs as Salt's highstate output, the rest nested


def _interrupted(result: JobResult, batch: bool) -> None:
    waiting = sorted(set(result.minions) - set(result.returns) - set(result.missing))
    if batch:
        click.echo(f"Interrupted: the batch stopped after {len(result.returns)} of {len(result.minions)} "
                   "minion(s); jobs already sent keep running (see `pvc job list`).", err=True)
    else:
        click.echo(f"Interrupted: job {result.jid} keeps running on {len(waiting)} minion(s) "
                   f"({', '.join(waiting)}); follow with: pvc job show {result.jid}", err=True)
    sys.exit(130)
