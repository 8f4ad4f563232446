"""Grains as the master keeps them: one copy of each string for the whole fleet.

A fleet's grains repeat the same keys, and mostly the same values (os, kernel, CPU model,
modules), on every node. Decoded, each minion's grains held some 60 string objects of their own,
~3 KiB a minion; interned, the fleet shares one of each. ``sys.intern`` keeps a string only while
something refers to it, so a minion's odd strings cost what they did before and no more.
"""

from __future__ import annotations

import sys
from typing import Any


def shared(value: Any) -> Any:
    """``value`` (decoded msgpack: the codec has bounded its depth and size) with its strings,
    map keys included, interned."""
    kind = type(value)
    if kind is str:
        return sys.intern(value)
    if kind is dict:
        return {(sys.intern(k) if type(k) is str else k): shared(v) for k, v in value.items()}
    if kind is list:
        return [shared(v) for v in value]
    return value
