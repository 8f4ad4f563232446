"""Options and argument parsing shared by the client commands.

The config directory is chosen once for every command: ``pvc -c DIR <command>``, or
``<command> -c DIR``, or ``$PVC_CONFIG_DIR``, or ``/etc/pvc`` (the most specific wins).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import click

from pvc.config import DEFAULT_CONFIG_DIR

CONFIG_ENV = "PVC_CONFIG_DIR"


def resolve_config_dir(ctx: click.Context | None, value: str | None) -> str:
    """The subcommand's ``-c``, else the group's ``-c`` (which also reads ``$PVC_CONFIG_DIR``),
    else ``$PVC_CONFIG_DIR``, else ``/etc/pvc``."""
    if value:
        return value
    root = ctx.find_root() if ctx is not None else None
    if root is not None and root is not ctx and root.params.get("config_dir"):
        return str(root.params["config_dir"])
    return os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_DIR


def _config_dir_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    return resolve_config_dir(ctx, value)


config_dir = click.option(
    "-c", "--config-dir", default=None, callback=_config_dir_callback, metavar="DIR",
    show_default=f"pvc -c, ${CONFIG_ENV} or {DEFAULT_CONFIG_DIR}",
    help="Directory holding the 'master' (or 'minion') config file.",
)
out = click.option(
    "--out", type=click.Choice(["human", "json", "yaml"]), default="human", show_default=True,
    help="Output format; json prints one object mapping minion id to return.",
)



def target_options(fn: Any) -> Any:
    """``-E/-L/-G/-C/-N``: how TARGET is read (a glob without any); see :func:`target_type`."""
    for flag, name, text in reversed((
            ("-E", "--pcre", "TARGET is a regular expression on minion ids."),
            ("-L", "--list", "TARGET is a comma-separated list of ids."),
            ("-G", "--grain", "TARGET is a grain match, e.g. os:Debian."),
            ("-C", "--compound", "TARGET is compound, e.g. 'G@os:Debian and web* or L@a,b'."),
            ("-N", "--nodegroup", "TARGET names a nodegroup from the master config."))):
        fn = click.option(flag, name, name.strip("-") + ("_" if name == "--list" else ""), is_flag=True,
                          help=text)(fn)
    return fn


def target_type(pcre: bool, list_: bool, grain: bool, compound: bool, nodegroup: bool) -> str:
    """The one target type the flags of :func:`target_options` chose (``glob`` if none)."""
    from pvc.errors import InvalidArgument

    chosen = [name for name, on in (("pcre", pcre), ("list", list_), ("grain", grain),
                                    ("compound", compound), ("nodegroup", nodegroup)) if on]
    if len(chosen) > 1:
        raise InvalidArgument(f"choose one target type, not {' and '.join('-' + c[0].upper() for c in chosen)}")
    return chosen[0] if chosen else "glob"


class FunctionCommand(click.Command):
    """A command whose trailing arguments go to a module function (``pvc run``, ``pvc call``).

    Unknown ``--options`` are CLI errors with click's "did you mean" suggestion, never
    function arguments: ``key=value`` and everything after ``--`` are the explicit ways to
    pass an argument, so ``pvc run '*' test.arg -- -1`` passes ``-1``.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            hint = (f"{exc.format_message()}\n(An argument for the function that starts with '-' "
                    f"goes after '--', e.g. pvc {self.name} ... -- {exc.option_name})")
            raise click.UsageError(hint, ctx) from None


# cmd functions that take ``python_shell``: from the CLI a command string runs through the
# shell, as Salt does (``pvc run '*' cmd.run 'echo hi; exit 3'``). Pass python_shell=False or an
# argv list (``'["ls", "-l"]'``) for the no-shell form. tests/cli/test_options.py checks this
# set against the registry.
SHELL_FUNCTIONS = frozenset({"cmd.run", "cmd.run_all", "cmd.retcode"})

_KWARG_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z", re.DOTALL)


def parse_call_args(tokens: Sequence[str]) -> tuple[list[Any], dict[str, Any]]:
    """Split CLI tokens into positional args and ``key=value`` kwargs; values are read as YAML
    scalars like Salt does (``2`` is an int, ``true`` a bool, ``[a, b]`` a list)."""
    import yaml

    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for tok in tokens:
        m = _KWARG_RE.match(tok)
        if m:
            kwargs[m.group(1)] = _scalar(m.group(2), yaml)
        else:
            args.append(_scalar(tok, yaml))
    return args, kwargs


def function_arguments(fun: str, tokens: Sequence[str]) -> tuple[list[Any], dict[str, Any]]:
    """:func:`parse_call_args`, plus the CLI's defaults: a ``cmd`` command given as text runs
    through the shell unless the operator said ``python_shell=...``.

    >>> function_arguments("cmd.run", ["echo hi; exit 3"])
    (['echo hi; exit 3'], {'python_shell': True})
    """
    args, kwargs = parse_call_args(tokens)
    if fun not in SHELL_FUNCTIONS or "python_shell" in kwargs:
        return args, kwargs
    raw_args = [t for t in tokens if not _KWARG_RE.match(t)]
    raw_kwargs = {m.group(1): m.group(2) for m in map(_KWARG_RE.match, tokens) if m}
    if args and not isinstance(args[0], (list, dict)):
        args[0] = raw_args[0]  # the command as typed: `cmd.run true` runs `true`, not YAML's True
        kwargs["python_shell"] = True
    elif not args and "cmd" in kwargs and not isinstance(kwargs["cmd"], (list, dict)):
        kwargs["cmd"] = raw_kwargs["cmd"]
        kwargs["python_shell"] = True
    return args, kwargs


def _scalar(text: str, yaml: Any) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if value is None and text != "" and text.lower() not in ("null", "~") else value
