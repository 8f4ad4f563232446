"""``pvc call``: run a module function on this host without a master (reads DIR/minion)."""

from __future__ import annotations

import click

from pvc.cli.options import FunctionCommand, config_dir, function_arguments, out


@click.command(cls=FunctionCommand)
@config_dir
@out
@click.argument("fun")
@click.argument("args", nargs=-1)
def call(config_dir: str, out: str, fun: str, args: tuple[str, ...]) -> None:
    """Run FUN with ARGS locally, e.g. `pvc call virt.list` or `pvc call cmd.run 'ls /' cwd=/tmp`.

    Arguments of the form key=value become keyword arguments; values are read as YAML; an
    argument that starts with '-' goes after '--'. A cmd.run command given as text runs
    through /bin/sh (python_shell=False or an argv list for no shell).
    Exit code 0 on success, 1 if the function failed.
    """
    import logging

    from pvc.cli.output import dump, human_return
    from pvc.config import load_minion
    from pvc.minion.functions import MinionFunctions
    from pvc.wire.local import validate_fun

    logging.basicConfig(level=logging.WARNING)
    cfg = load_minion(config_dir)
    validate_fun(fun)
    pos, kw = function_arguments(fun, args)
    funcs = MinionFunctions(cfg)
    try:
        ret = funcs.call(fun, pos, kw)
    finally:
        funcs.close()
    if out == "human" and fun.startswith("state."):  # Salt's highstate output for state runs
        from pvc.cli.highstate import print_state_returns

        raise SystemExit(0 if print_state_returns({"local": ret}) else 1)
    if out == "human":
        click.echo(human_return("local", ret))
    else:
        click.echo(dump({"local": ret.salt_shape()}, out))
    raise SystemExit(0 if ret.ok else 1)
