"""What a state tree holds: the files (or directories) under a prefix of its roots.

Shared by the master's file server (``cp.list_master`` over the channel) and local roots
(``pvc call``). Entries whose real path leaves their root (a symlink out) are not listed, and a
listing is bounded.

Example::

    list_roots(["/srv/salt"], "ntp")              # ["ntp/init.sls", "ntp/map.jinja", ...]
    list_roots(["/srv/salt"], "", dirs=True)      # ["ntp", "ntp/files", ...]
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from pvc.states.tree import tree_path

MAX_LISTING = 20_000


def list_roots(roots: Sequence[str], prefix: str = "", dirs: bool = False) -> list[str]:
    """Sorted tree paths under ``prefix`` ("" for everything) in every root, at most ``MAX_LISTING``;
    a prefix that leaves the tree raises :class:`~pvc.states.tree.UnsafePath`."""
    rel = tree_path(prefix) if prefix.removeprefix("salt://") not in ("", ".", "./") else ""
    found: set[str] = set()
    for root in (os.path.realpath(r) for r in roots):
        top = os.path.join(root, rel) if rel else root
        if not os.path.isdir(top) or os.path.commonpath([os.path.realpath(top), root]) != root:
            continue
        for here, subdirs, files in os.walk(top):
            for name in subdirs if dirs else files:
                full = os.path.join(here, name)
                if os.path.commonpath([os.path.realpath(full), root]) == root:
                    found.add(os.path.relpath(full, root).replace(os.sep, "/"))
            if len(found) >= MAX_LISTING:
                return sorted(found)[:MAX_LISTING]
    return sorted(found)
