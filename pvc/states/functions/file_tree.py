"""``file.recurse``: mirror a directory of the state tree onto the minion.

Each file under ``source`` is one :func:`~pvc.states.functions.file.managed` (so templates, modes
and owners work the same) and the changes are collected per path; ``clean`` removes files the
source does not have. A second run reports no changes.

Example (SLS)::

    /etc/nftables.d:
      file.recurse:
        - source: salt://firewall/rules
        - clean: True
        - file_mode: '0640'
"""

from __future__ import annotations

import os
import posixpath
from typing import Any

from pvc.states.context import StateContext
from pvc.states.functions.file import absent, directory, managed
from pvc.states.functions.fileutil import not_absolute
from pvc.states.result import StateResult
from pvc.states.tree import tree_path


def recurse(ctx: StateContext, name: str, source: str, clean: bool = False, file_mode: Any = None,
            dir_mode: Any = None, user: Any = None, group: Any = None, makedirs: bool = False,
            template: str | None = None, context: dict[str, Any] | None = None,
            defaults: dict[str, Any] | None = None) -> StateResult:
    """Make directory ``name`` hold the files of ``salt://`` directory ``source``."""
    bad = not_absolute(name)
    if bad:
        return bad
    if ctx.tree is None or not source.startswith("salt://"):
        return StateResult(False, {}, "file.recurse needs a salt:// source and a state tree")
    prefix = tree_path(source)
    files = ctx.tree.list(prefix)
    if not files:
        return StateResult(False, {}, f"The directory '{source}' does not exist or is empty on the master")
    changes: dict[str, Any] = {}
    failures: list[str] = []

    def note(path: str, result: StateResult) -> None:
        if result.result is False:
            failures.append(f"{path}: {result.comment}")
        elif result.changes:
            changes[path] = dict(result.changes)

    top = directory(ctx, name, mode=dir_mode, user=user, group=group, makedirs=makedirs)
    note(name, top)
    wanted = set()
    for rel in files:
        dest = os.path.join(name, posixpath.relpath(rel, prefix))
        wanted.add(dest)
        parent = os.path.dirname(dest)
        if parent != name:
            note(parent, directory(ctx, parent, mode=dir_mode, user=user, group=group, makedirs=True))
        note(dest, managed(ctx, dest, source=f"salt://{rel}", template=template, context=context,
                           defaults=defaults, mode=file_mode, user=user, group=group, makedirs=True))
    if clean and os.path.isdir(name):
        for dirpath, _dirs, names in os.walk(name):
            for item in names:
                path = os.path.join(dirpath, item)
                if path not in wanted:
                    note(path, absent(ctx, path))
    if failures:
        return StateResult(False, changes, "\n".join(failures))
    if not changes:
        return StateResult(True, {}, f"The directory {name} is in the correct state")
    verb = "would be updated" if ctx.test else "updated"
    return StateResult(None if ctx.test else True, changes, f"Recursively {verb} {name}")


FUNCTIONS = (recurse,)
