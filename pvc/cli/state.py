"""``pvc state``: apply SLS files to minions through the master, and look at what they would do.

Each subcommand is one job (``state.apply``, ``state.highstate``, ``state.show_sls``,
``state.show_top``) on the targeted minions; the output is Salt's highstate output, or
``--out json`` in Salt's shape (``{minion: {tag: {result, comment, changes, ...}}}``).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from pvc.cli.options import config_dir, out, target_options, target_type
from pvc.errors import InvalidArgument

STATE_TIMEOUT = 300.0


def _run_kwargs(test: bool, pillar: str | None) -> dict[str, Any]:
    """``test`` and ``--pillar`` (a JSON object merged over the minions' pillar) as job kwargs."""
    kwargs: dict[str, Any] = {"test": test}
    if pillar is None:
        return kwargs
    try:
        value = json.loads(pillar)
    except ValueError as exc:
        raise InvalidArgument(f"--pillar must be a JSON object, e.g. '{{\"ntp\": {{\"server\": \"a\"}}}}': {exc}") \
            from None
    if not isinstance(value, dict):
        raise InvalidArgument("--pillar must be a JSON object (a mapping), not a list or a scalar")
    kwargs["pillar"] = value
    return kwargs


def _applying(fn: Any) -> Any:
    """``--test`` and ``--pillar``, for the commands that apply states."""
    fn = click.option("--pillar", "pillar", metavar="JSON", help="A JSON object merged over the minions' pillar.")(fn)
    return click.option("--test", is_flag=True,
                        help="Plan only: nothing changes; states that would change say None.")(fn)


def _common(fn: Any) -> Any:
    fn = click.option("-t", "--timeout", type=click.FloatRange(0, 86400, min_open=True), default=STATE_TIMEOUT,
                      show_default=True, help="Seconds to wait for the minions' runs.")(fn)
    return config_dir(target_options(out(fn)))


def _run(ctx: click.Context, target: str, fun: str, kwargs: dict[str, Any], timeout: float, out: str) -> None:
    """One job; print every return (highstate style or Salt-shaped data); exit 0 only if every
    targeted minion returned and no state failed, 2 if nothing matched."""
    from pvc.cli.connect import open_client
    from pvc.cli.highstate import print_state_returns
    from pvc.cli.output import dump

    p = ctx.params
    tgt_type = target_type(p["pcre"], p["list_"], p["grain"], p["compound"], p["nodegroup"])
    with open_client(config_dir=p["config_dir"]) as client:
        result = client.run(target, fun, [], kwargs, tgt_type, timeout)
    if out == "human":
        ok = print_state_returns(result.returns)
    else:
        from pvc.states.saltshape import failed

        click.echo(dump(result.salt_shape(), out))
        ok = all(r.ok and not (isinstance(r.data, dict) and failed(r.data)) for r in result.returns.values())
    for mid, reason in sorted(result.missing.items()):
        click.echo(f"{mid}: no return ({reason})", err=True)
    if not result.minions:
        click.echo("No minions matched the target. No command was sent.", err=True)
        sys.exit(2)
    sys.exit(0 if ok and not result.missing else 1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def state() -> None:
    """Apply SLS files (Salt's state system) to minions through the master.

    The master serves its file_roots and renders each minion's pillar from pillar_roots
    (top.sls picks what each minion gets); minions cache files by content hash.

    \b
    Examples:
      pvc state highstate '*'
      pvc state apply motd,ntp 'hv*' --test
      pvc state apply -G role:hv base --pillar '{"ntp": {"servers": ["10.0.0.1"]}}'
      pvc state show_sls ntp hv1
      pvc state show_top
    """


@state.command("apply", short_help="Apply SLS to TARGET (TARGET alone: the highstate).")
@_common
@_applying
@click.argument("args", nargs=-1, required=True, metavar="[SLS,...] TARGET")
@click.pass_context
def apply(ctx: click.Context, args: tuple[str, ...], test: bool, pillar: str | None, timeout: float, out: str,
          **_: Any) -> None:
    """Apply SLS (comma-separated) to TARGET; with TARGET alone, apply the highstate.

    \b
    Usage: pvc state apply [SLS,...] TARGET
    Exit code 0 when every targeted minion ran every state successfully, 1 otherwise.
    """
    if len(args) > 2:
        raise InvalidArgument("pvc state apply takes [SLS,...] TARGET (quote a target with spaces)")
    mods, target = (args[0], args[1]) if len(args) == 2 else (None, args[0])
    kwargs = _run_kwargs(test, pillar)
    if mods:
        kwargs["mods"] = mods
    _run(ctx, target, "state.apply", kwargs, timeout, out)


@state.command("highstate", short_help="Apply what top.sls gives each minion of TARGET.")
@_common
@_applying
@click.argument("target")
@click.pass_context
def highstate(ctx: click.Context, target: str, test: bool, pillar: str | None, timeout: float, out: str,
              **_: Any) -> None:
    """Apply every SLS that top.sls gives each minion matched by TARGET."""
    _run(ctx, target, "state.highstate", _run_kwargs(test, pillar), timeout, out)


@state.command("show_sls", short_help="Show the states SLS compiles to on TARGET.")
@_common
@click.argument("sls")
@click.argument("target")
@click.pass_context
def show_sls(ctx: click.Context, sls: str, target: str, timeout: float, out: str, **_: Any) -> None:
    """Show the states SLS compiles to on TARGET (rendered with its grains and pillar); runs nothing."""
    _run(ctx, target, "state.show_sls", {"mods": sls}, timeout, out)


@state.command("show_top", short_help="Show the SLS top.sls gives each minion of TARGET.")
@_common
@click.argument("target", default="*")
@click.pass_context
def show_top(ctx: click.Context, target: str, timeout: float, out: str, **_: Any) -> None:
    """Show the SLS that top.sls gives each minion matched by TARGET (default: all)."""
    _run(ctx, target, "state.show_top", {}, timeout, out)
