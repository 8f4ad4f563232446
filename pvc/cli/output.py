"""Printing returns: human (nested, like Salt's outputter), json (Salt's shape) or yaml."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from pvc.results import Return


def dump(value: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(value, indent=2, sort_keys=True, default=_default)
    import yaml

    return yaml.safe_dump(_plain(value), default_flow_style=False, sort_keys=True).rstrip()


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def human_return(mid: str, ret: Return) -> str:
    """``mid:`` then the value indented, errors in red, like Salt's nested output."""
    color = sys.stdout.isatty()
    head = click.style(f"{mid}:", fg="green" if ret.ok else "red") if color else f"{mid}:"
    if not ret.ok:
        body = f"ERROR: {ret.error}"
    elif isinstance(ret.data, (dict, list)):
        body = dump(ret.data, "yaml")
    else:
        body = str(ret.data)
    return head + "\n" + "\n".join("    " + line for line in body.splitlines() or [""])
