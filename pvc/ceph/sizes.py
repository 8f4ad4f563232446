"""Sizes as operators write them ("10G", "512M", "1.5T", 4096) and as they read them back.

Units are binary, as in the ``rbd`` CLI: ``10G`` is 10 GiB. Every size a function returns comes
in both forms, ``{"size": 10737418240, "size_human": "10 GiB"}``.

Example::

    parse_size("512M")   # 536870912
    human(536870912)     # "512 MiB"
"""

from __future__ import annotations

import re
from typing import Any

from pvc.errors import InvalidArgument

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
_SHIFT = {"": 0, "B": 0, "K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTPE]?)(?:I?B)?\s*$", re.IGNORECASE)


def parse_size(value: Any, what: str = "size") -> int:
    """Bytes from an int or a string like ``"10G"``, ``"512MiB"``, ``"1.5T"`` or ``"4096"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        size = int(float(match.group(1)) * (1 << _SHIFT[match.group(2).upper()]))
    else:
        raise InvalidArgument(f"ceph: {what} {value!r} is not a size (bytes, or a number with K/M/G/T/P, e.g. '10G')")
    if size <= 0:
        raise InvalidArgument(f"ceph: {what} must be greater than zero, got {value!r}")
    return size


def human(size: int) -> str:
    """The largest binary unit that keeps the number >= 1, at most one decimal: ``"1.5 GiB"``."""
    value, unit = float(size), 0
    while abs(value) >= 1024 and unit < len(UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{value:.1f}".rstrip("0").rstrip(".") + f" {UNITS[unit]}"


def sized(key: str, size: int) -> dict[str, Any]:
    """``{key: size, key_human: "..."}``: the two forms every returned size comes in."""
    return {key: size, f"{key}_human": human(size)}
