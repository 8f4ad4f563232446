"""Printing returns: human (nested, like Salt's outputter), json (Salt's shape) or yaml.

Human output is styled (green/red minion ids); ``click.echo`` drops the styles when stdout is
not a terminal or ``NO_COLOR`` is set (see :func:`pvc.cli.main.cli`). Text values, such as
``sys.doc`` or ``cmd.run`` output, print as the text itself, never quoted.
"""

from __future__ import annotations

import json
from typing import Any

import click

from pvc.results import Return

INDENT = "    "


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


def format_duration(seconds: float) -> str:
    """Seconds as an operator reads them: ``0.04 ms``, ``12 ms``, ``1.2 s``, ``3 min 5 s``.

    >>> format_duration(4.099000000223896e-05)
    '0.04 ms'
    """
    if seconds < 0.01:
        return f"{seconds * 1000:.2f}".rstrip("0").rstrip(".") + " ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def nested(value: Any) -> list[str]:
    """Lines of ``value`` in Salt's nested style: mappings as ``key: value`` (or ``key:`` and
    the value indented below), lists as ``- item``, text as its own lines."""
    if isinstance(value, dict):
        if not value:
            return ["{}"]
        lines: list[str] = []
        for key in sorted(value, key=str):
            lines += _entry(f"{key}:", value[key])
        return lines
    if isinstance(value, (list, tuple)):
        if not value:
            return ["[]"]
        lines = []
        for item in value:
            lines += _entry("-", item)
        return lines
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).splitlines() or [""]


def _entry(head: str, value: Any) -> list[str]:
    body = nested(value)
    if len(body) == 1 and not isinstance(value, (dict, list, tuple)) or body in (["{}"], ["[]"]):
        return [f"{head} {body[0]}".rstrip()]
    return [head] + [(INDENT + line).rstrip() for line in body]


def human_return(mid: str, ret: Return, duration: bool = False) -> str:
    """``mid:`` then the value indented, errors in red, like Salt's nested output."""
    took = f" ({format_duration(ret.duration)})" if duration else ""
    head = click.style(f"{mid}:", fg="green" if ret.ok else "red") + took
    body = [f"ERROR: {ret.error}"] if not ret.ok else nested(ret.data)
    return head + "\n" + "\n".join((INDENT + line).rstrip() for line in body)
