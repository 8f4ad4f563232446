"""Options and argument parsing shared by the client commands."""

from __future__ import annotations

from typing import Any

import click

from pvc.config import DEFAULT_CONFIG_DIR

config_dir = click.option(
    "-c", "--config-dir", default=DEFAULT_CONFIG_DIR, show_default=True, metavar="DIR",
    help="Directory holding the 'master' (or 'minion') config file.",
)
out = click.option(
    "--out", type=click.Choice(["human", "json", "yaml"]), default="human", show_default=True,
    help="Output format; json prints one object mapping minion id to return.",
)


def parse_call_args(tokens: tuple[str, ...]) -> tuple[list[Any], dict[str, Any]]:
    """Split CLI tokens into positional args and ``key=value`` kwargs; values are read as YAML
    scalars like Salt does (``2`` is an int, ``true`` a bool, ``[a, b]`` a list)."""
    import re

    import yaml

    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for tok in tokens:
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z", tok, re.S)
        if m:
            kwargs[m.group(1)] = _scalar(m.group(2), yaml)
        else:
            args.append(_scalar(tok, yaml))
    return args, kwargs


def _scalar(text: str, yaml: Any) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if value is None and text != "" and text.lower() not in ("null", "~") else value
