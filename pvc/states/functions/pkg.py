"""``pkg.installed``/``removed``/``purged`` and ``pkgrepo.managed`` (Debian: apt and dpkg).

Facts come from ``pkg.list_pkgs``; only what differs is handed to ``pkg.install``/``remove``/
``purge``, and the result is checked against the package database afterwards. ``sources`` may
name ``salt://`` files: they are copied out of the state tree into the minion's cache first.

Example (SLS)::

    base-packages:
      pkg.installed:
        - pkgs: [vim, {curl: 7.88.1-10+deb12u5}]
    hello:
      pkg.installed:
        - sources:
          - hello: salt://debs/hello_1.0_all.deb
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from pvc.states.context import StateContext
from pvc.states.errors import StateError
from pvc.states.functions.file_edit import edit
from pvc.states.functions.fileutil import write
from pvc.states.registry import StateModule
from pvc.states.result import StateResult
from pvc.states.tree import tree_path


def _wanted(name: str, pkgs: list[Any] | None, version: Any) -> dict[str, str | None]:
    if pkgs is None:
        return {name: None if version is None else str(version)}
    out: dict[str, str | None] = {}
    for item in pkgs:
        if isinstance(item, Mapping) and len(item) == 1:
            key, value = next(iter(item.items()))
            out[str(key)] = None if value is None else str(value)
        else:
            out[str(item)] = None
    return out


def _local_sources(ctx: StateContext, sources: list[Any]) -> tuple[dict[str, str | None], list[dict[str, str]]]:
    """``{name: None}`` wanted, and the sources with ``salt://`` files copied to local paths."""
    wanted: dict[str, str | None] = {}
    local = []
    for item in sources:
        if not isinstance(item, Mapping) or len(item) != 1:
            raise StateError("sources items must be {package name: salt://path or /local/path.deb}")
        key, source = next(iter(item.items()))
        source = str(source)
        if source.startswith("salt://"):
            if ctx.tree is None:
                raise StateError(f"source {source} needs a state tree")
            data = ctx.tree.read(tree_path(source))
            if data is None:
                raise StateError(f"Source file {source} not found")
            path = os.path.join(ctx.cache_dir, "pkg", os.path.basename(tree_path(source)))
            if not ctx.test:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                write(path, data, "0644")
            source = path
        wanted[str(key)] = None
        local.append({str(key): source})
    return wanted, local


def installed(ctx: StateContext, name: str, pkgs: list[Any] | None = None, version: Any = None,
              sources: list[Any] | None = None, refresh: bool = False) -> StateResult:
    """Ensure the packages are installed (at ``version``, when given)."""
    local: list[dict[str, str]] | None = None
    if sources is not None:
        wanted, local = _local_sources(ctx, sources)
    else:
        wanted = _wanted(name, pkgs, version)
    have = ctx.call("pkg.list_pkgs")
    todo = {n: v for n, v in wanted.items() if n not in have or (v is not None and have[n] != v)}
    if not todo:
        return StateResult(True, {}, "All specified packages are already installed")
    planned = {n: {"old": have.get(n, ""), "new": v or "latest"} for n, v in todo.items()}
    if ctx.test:
        return StateResult(None, planned, f"The following packages would be installed/updated: {', '.join(todo)}")
    if local is not None:
        changes = ctx.call("pkg.install", sources=[s for s in local if next(iter(s)) in todo])
    else:
        changes = ctx.call("pkg.install", pkgs=[n if v is None else {n: v} for n, v in todo.items()], refresh=refresh)
    now = ctx.call("pkg.list_pkgs")
    failed = [n for n, v in todo.items() if n not in now or (v is not None and now[n] != v)]
    if failed:
        return StateResult(False, changes, f"The following packages failed to install/update: {', '.join(failed)}")
    return StateResult(True, changes, f"The following packages were installed/updated: {', '.join(todo)}")


def _uninstall(ctx: StateContext, fun: str, name: str, pkgs: list[Any] | None) -> StateResult:
    targets = list(_wanted(name, pkgs, None))
    have = ctx.call("pkg.list_pkgs")
    leftovers = set(ctx.call("pkg.list_removed")) if fun == "purge" else set()
    present = [n for n in targets if n in have or n in leftovers]
    verb = "removed" if fun == "remove" else "purged"
    if not present:
        return StateResult(True, {}, f"All specified packages are already {verb}")
    if ctx.test:
        return StateResult(None, {n: {"old": have.get(n, "config files"), "new": ""} for n in present},
                           f"The following packages will be {verb}: {', '.join(present)}")
    changes = ctx.call(f"pkg.{fun}", pkgs=present)
    left = [n for n in present if n in ctx.call("pkg.list_pkgs")
            or (fun == "purge" and n in ctx.call("pkg.list_removed"))]
    if left:
        return StateResult(False, changes, f"The following packages were not {verb}: {', '.join(left)}")
    return StateResult(True, changes, f"All targeted packages were {verb}")


def removed(ctx: StateContext, name: str, pkgs: list[Any] | None = None) -> StateResult:
    """Ensure the packages are not installed (config files may stay)."""
    return _uninstall(ctx, "remove", name, pkgs)


def purged(ctx: StateContext, name: str, pkgs: list[Any] | None = None) -> StateResult:
    """Ensure the packages and their config files are gone."""
    return _uninstall(ctx, "purge", name, pkgs)


def _repo_file(name: str, file: str | None) -> str:
    if file is not None:
        return file
    parts = name.split()
    url = next((p for p in parts if "://" in p), name)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", url.split("://", 1)[-1]).strip("_")
    return f"/etc/apt/sources.list.d/{slug}.list"


def managed(ctx: StateContext, name: str, file: str | None = None, refresh: bool = True,
            refresh_db: bool | None = None, humanname: str | None = None) -> StateResult:
    """Ensure the apt source line ``name`` is in ``file``; refresh the package lists when added."""
    path = _repo_file(name, file)
    line = " ".join(name.split())

    def change(text: str) -> str:
        present = any(" ".join(item.split()) == line for item in text.splitlines())
        return text if present else "".join(f"{item}\n" for item in [*text.splitlines(), line])

    result = edit(ctx, path, change, create=True)
    if result.result is True and result.changes and (refresh if refresh_db is None else refresh_db):
        ctx.call("pkg.refresh_db")
    return result


MODULE = StateModule("pkg", functions=(installed, removed, purged))
REPO_MODULE = StateModule("pkgrepo", functions=(managed,))
