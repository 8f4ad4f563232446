"""Validation of minion ids: the one gate before an id touches a path, a topic or a query.

Salt built file paths from wire data (CVE-2020-11652); here an id is checked once at every
edge (config, auth request, CLI argument) and code after that edge may trust it.
"""

from __future__ import annotations

import re

from pvc.errors import InvalidMinionId

MAX_ID_LEN = 128
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


def validate_minion_id(mid: object) -> str:
    """Return ``mid`` if it is a safe minion id, else raise :class:`InvalidMinionId`.

    Allowed: letters, digits, ``.``, ``_``, ``-``; first character alphanumeric; at most 128
    characters; no ``..``. So ``web-1.example.org`` is fine and ``../../etc/x`` is not.
    """
    if not isinstance(mid, str):
        raise InvalidMinionId(f"minion id must be a string, got {type(mid).__name__}")
    if not mid:
        raise InvalidMinionId("minion id is empty")
    if len(mid) > MAX_ID_LEN:
        raise InvalidMinionId(f"minion id is longer than {MAX_ID_LEN} characters")
    if not _ID_RE.match(mid) or ".." in mid:
        raise InvalidMinionId(
            f"minion id {mid!r} is not allowed: use letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit, no '..')"
        )
    return mid


def is_valid_minion_id(mid: object) -> bool:
    try:
        validate_minion_id(mid)
    except InvalidMinionId:
        return False
    return True
