"""The simple matchers: a glob or regex on the id, a list of ids, a grain ``key:value``.

Example::

    simple("grain", "os:deb*")("web1", {"os": "Debian"})    # True
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from pvc.errors import InvalidMinionId, InvalidTarget
from pvc.ids import validate_minion_id
from pvc.targeting.grainpath import traverse

_MISSING = object()

Matcher = Callable[[str, Mapping[str, Any]], bool]


@lru_cache(maxsize=4096)
def _regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise InvalidTarget(f"'{pattern}' is not a valid regular expression: {exc}") from None


def glob_rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return _regex(fnmatch.translate(pattern), flags)


def ids_of(text: str) -> frozenset[str]:
    ids = [p.strip() for p in text.split(",") if p.strip()]
    if not ids:
        raise InvalidTarget("a list target needs at least one minion id")
    try:
        return frozenset(validate_minion_id(i) for i in ids)
    except InvalidMinionId as exc:
        raise InvalidTarget(f"list target: {exc}") from None


def _grain_value_matches(value: Any, pattern: str, rx: re.Pattern[str]) -> bool:
    if isinstance(value, list):
        return any(_grain_value_matches(v, pattern, rx) for v in value)
    if isinstance(value, Mapping):
        return pattern == "*" or pattern in value  # Salt: naming a key of a mapping grain matches
    return rx.match(str(value)) is not None


def _grain_cuts(parts: list[str], regex: bool) -> list[tuple[str, str, re.Pattern[str]]]:
    """Every (key, pattern) split of the colons whose pattern compiles; values are compared
    case-insensitively, as Salt does."""
    cuts, error = [], None
    for cut in range(1, len(parts)):
        key, pattern = ":".join(parts[:cut]), ":".join(parts[cut:])
        try:
            rx = _regex(pattern, re.IGNORECASE) if regex else glob_rx(pattern, re.IGNORECASE)
        except InvalidTarget as exc:
            error = exc
            continue
        cuts.append((key, pattern, rx))
    if not cuts and error is not None:
        raise error
    return cuts


def _grain_matcher(expr: str, regex: bool) -> Matcher:
    """``key:sub:value``; like Salt, every split of the colons is tried (``ipv6:::1`` finds
    ``::1`` in the ``ipv6`` list) and any one that matches is enough."""
    parts = expr.split(":")
    if len(parts) < 2 or not parts[0]:
        raise InvalidTarget(f"grain target '{expr}' must look like key:value (e.g. os:Debian)")
    cuts = _grain_cuts(parts, regex)

    def match(mid: str, grains: Mapping[str, Any]) -> bool:
        for key, pattern, rx in cuts:
            value = traverse(grains, key, _MISSING)
            if value is not _MISSING and _grain_value_matches(value, pattern, rx):
                return True
        return False

    return match


def simple(tgt_type: str, expr: str) -> Matcher:
    if tgt_type == "glob":
        rx = glob_rx(expr)
        return lambda mid, grains: rx.match(mid) is not None
    if tgt_type == "pcre":
        rx = _regex(expr)
        return lambda mid, grains: rx.match(mid) is not None
    if tgt_type == "list":
        ids = ids_of(expr)
        return lambda mid, grains: mid in ids
    if tgt_type == "grain":
        return _grain_matcher(expr, regex=False)
    if tgt_type == "grain_pcre":
        return _grain_matcher(expr, regex=True)
    raise InvalidTarget(f"unknown target type '{tgt_type}'")
