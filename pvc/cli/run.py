"""``pvc run``: publish a job to the targeted minions and print their returns."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from pvc.cli.options import config_dir, out, parse_call_args
from pvc.errors import InvalidArgument

if TYPE_CHECKING:
    from pvc.client import ReturnStream


def _target_type(pcre: bool, list_: bool, grain: bool, compound: bool, nodegroup: bool) -> str:
    chosen = [name for name, on in (("pcre", pcre), ("list", list_), ("grain", grain),
                                    ("compound", compound), ("nodegroup", nodegroup)) if on]
    if len(chosen) > 1:
        raise InvalidArgument(f"choose one target type, not {' and '.join('-' + c[0].upper() for c in chosen)}")
    return chosen[0] if chosen else "glob"


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


@click.command(context_settings={"ignore_unknown_options": True})
@config_dir
@click.option("-E", "--pcre", is_flag=True, help="TARGET is a regular expression on minion ids.")
@click.option("-L", "--list", "list_", is_flag=True, help="TARGET is a comma-separated list of ids.")
@click.option("-G", "--grain", is_flag=True, help="TARGET is a grain match, e.g. os:Debian.")
@click.option("-C", "--compound", is_flag=True, help="TARGET is compound, e.g. 'G@os:Debian and web* or L@a,b'.")
@click.option("-N", "--nodegroup", is_flag=True, help="TARGET names a nodegroup from the master config.")
@click.option("-t", "--timeout", type=click.FloatRange(0, 86400, min_open=True), default=None,
              help="Seconds to wait for returns (default: master's timeout, 5).")
@out
@click.option("--async", "async_", is_flag=True, help="Publish, print the jid and exit.")
@click.option("-b", "--batch", default=None, metavar="N|N%", help="Run on N minions (or N% of them) at a time.")
@click.argument("target")
@click.argument("fun")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(config_dir: str, pcre: bool, list_: bool, grain: bool, compound: bool, nodegroup: bool,
        timeout: float | None, out: str, async_: bool, batch: str | None, target: str, fun: str,
        args: tuple[str, ...]) -> None:
    """Run FUN on the minions matched by TARGET (a glob by default).

    \b
    Examples:
      pvc run '*' test.ping
      pvc run -L hv1,hv2 cmd.run 'uptime'
      pvc run -G virt:kvm virt.list --out json
      pvc run -C 'G@os:Debian and hv*' cmd.run_all '["systemctl", "status"]' timeout=10
      pvc run '*' test.sleep 1 --batch 25%

    Arguments of the form key=value become keyword arguments; values are read as YAML.
    Exit code 0 only if every targeted minion returned success; minions that did not
    return are listed with the reason (not connected / timed out).
    """
    from pvc.client import Client
    from pvc.wire.local import validate_fun

    tgt_type = _target_type(pcre, list_, grain, compound, nodegroup)
    validate_fun(fun)
    pos, kw = parse_call_args(args)
    with Client(config_dir) as client:
        if async_:
            jid = client.run_async(target, fun, pos, kw, tgt_type, timeout, stream=False)
            click.echo(f"Executed command with job ID: {jid}" if out == "human" else jid)
            return
        if batch is not None:
            from pvc.batch import run_batch

            _, connected = client.expected(target, tgt_type)
            returns = run_batch(client, target, tgt_type, fun, pos, kw, timeout, parse_batch(batch, len(connected)))
        else:
            returns = client.iter_run(target, fun, pos, kw, tgt_type, timeout)
        _print(returns, out)


def _print(stream: ReturnStream, out: str) -> None:
    from pvc.cli.output import dump, human_return

    result = stream.result
    for mid, ret in stream:
        if out == "human":
            click.echo(human_return(mid, ret))
    if out != "human":
        click.echo(dump(result.salt_shape(), out))
    if not result.minions:
        click.echo("No minions matched the target. No command was sent.", err=True)
        sys.exit(2)
    for mid, reason in sorted(result.missing.items()):
        click.echo(f"{mid}: no return ({reason})", err=True)
    sys.exit(0 if result.ok else 1)
