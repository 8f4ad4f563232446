"""The ``file`` module: read-only file facts that templates and conditions ask for.

Example (Jinja): ``{% if salt['file.file_exists']('/etc/default/grub') %}...{% endif %}``
"""

from __future__ import annotations

import os
import posixpath
import re

from pvc.errors import InvalidArgument
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec

MAX_SCAN_BYTES = 64 * 1024 * 1024


def file_exists(ctx: ExecContext, path: str) -> bool:
    """True if ``path`` is a regular file (after following links)."""
    return os.path.isfile(os.path.expanduser(path))


def directory_exists(ctx: ExecContext, path: str) -> bool:
    """True if ``path`` is a directory."""
    return os.path.isdir(os.path.expanduser(path))


def dirname(ctx: ExecContext, path: str) -> str:
    """``/etc/ntp.conf`` -> ``/etc`` (the path string only; nothing is read)."""
    return posixpath.dirname(path)


def basename(ctx: ExecContext, path: str) -> str:
    """``/etc/ntp.conf`` -> ``ntp.conf``."""
    return posixpath.basename(path)


def contains_regex(ctx: ExecContext, path: str, regex: str, lchar: str = "") -> bool:
    """True if a line of file ``path`` matches ``regex`` (``lchar`` stripped from line starts
    first); False if the file does not exist.

    Example: ``salt['file.contains_regex']('/etc/hosts', '^127\\.0\\.1\\.1')``
    """
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise InvalidArgument(f"file.contains_regex: bad regex {regex!r}: {exc}") from None
    return any(pattern.search(line.lstrip(lchar) if lchar else line) for line in _lines(path))


def contains(ctx: ExecContext, path: str, text: str) -> bool:
    """True if file ``path`` contains ``text``; False if it does not exist."""
    return any(text in line for line in _lines(path)) if "\n" not in text else text in "".join(_lines(path))


def _lines(path: str) -> list[str]:
    try:
        with open(os.path.expanduser(path), encoding="utf-8", errors="replace") as handle:
            return handle.read(MAX_SCAN_BYTES).splitlines(keepends=True)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return []


SPEC = ModuleSpec(
    "file",
    functions=(file_exists, directory_exists, dirname, basename, contains_regex, contains),
    inline=("dirname", "basename"),
)
