"""Where SLS files, templates and ``salt://`` sources come from: the :class:`StateTree` protocol.

The state engine never opens the state tree itself: it asks a ``StateTree`` for a file by its
path inside the tree (``ntp/map.jinja``, what ``salt://ntp/map.jinja`` names). Locally,
:class:`FileRoots` reads Salt's ``file_roots`` directories; on a minion the file client that
fetches from the master over the authenticated channel implements the same two methods. Every
path is checked by :func:`tree_path` first, so neither implementation sees ``..``, an absolute
path or a NUL; :class:`FileRoots` also refuses a symlink that leads out of its root.

Example::

    tree = FileRoots(["/srv/salt"])
    tree.read("ntp/map.jinja")        # b"{% set ntp = ... %}" or None
    tree.list("ntp/files")            # ["ntp/files/ntp.conf", ...]
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from typing import Protocol

from pvc.states.errors import StateError

MAX_FILE_BYTES = 16 * 1024 * 1024


class UnsafePath(StateError, ValueError):
    """A ``salt://`` path that leaves the state tree (``..``, absolute, NUL, symlink out)."""


class StateTree(Protocol):
    """Read-only access to one environment of the state tree (``base`` by default)."""

    saltenv: str

    def read(self, path: str) -> bytes | None:
        """The bytes of file ``path`` (relative, already checked), or None if absent."""

    def list(self, prefix: str) -> list[str]:
        """Every file under directory ``prefix`` ("" for the whole tree; recursively, sorted),
        as tree paths."""


def tree_path(path: str) -> str:
    """``salt://a/b`` or ``a/b`` -> ``a/b``; raises :class:`UnsafePath` for anything that could
    leave the tree. ``./x`` and ``a/./b`` are normalised; ``a/../b`` is refused even when it
    would stay inside (a tree path has one spelling)."""
    text = path.removeprefix("salt://")
    text = text.split("?saltenv=", 1)[0]
    if "\x00" in text or "\\" in text:
        raise UnsafePath(f"path {path!r} contains a NUL or a backslash")
    if text.startswith("/"):
        raise UnsafePath(f"path {path!r} is absolute; state tree paths are relative to the roots")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePath(f"path {path!r} leaves the state tree")
    if not parts:
        raise UnsafePath(f"path {path!r} names no file")
    return "/".join(parts)


def tree_prefix(prefix: str) -> str:
    """A listing prefix: "" (or "/", ".") is the whole tree, anything else a checked tree path."""
    return tree_path(prefix) if prefix.strip("/.") else ""


def list_dirs(tree: StateTree, prefix: str = "") -> list[str]:
    """The directories holding files under ``prefix`` (and their parents below it): Salt's
    ``cp.list_master_dirs`` for templates, from the run's own tree."""
    found: set[str] = set()
    for path in tree.list(prefix):
        parts = path.split("/")[:-1]
        found.update("/".join(parts[:n]) for n in range(1, len(parts) + 1))
    base = tree_prefix(prefix)
    return sorted(d for d in found if not base or d == base or d.startswith(base + "/"))


def sls_candidates(sls: str) -> list[tuple[str, bool]]:
    """``web.nginx`` -> ``web/nginx.sls`` then ``web/nginx/init.sls`` (the bool: is init)."""
    if not sls or sls.startswith(".") or ".." in sls or "/" in sls:
        raise UnsafePath(f"SLS name {sls!r} is not a dotted state name")
    base = tree_path(sls.replace(".", "/"))
    return [(base + ".sls", False), (posixpath.join(base, "init.sls"), True)]


class FileRoots:
    """Salt's ``file_roots`` for one environment: the first root holding a path wins."""

    def __init__(self, roots: Sequence[str | os.PathLike[str]], saltenv: str = "base") -> None:
        self.roots = [os.path.realpath(os.fspath(root)) for root in roots]
        self.saltenv = saltenv

    def _locate(self, path: str) -> str | None:
        rel = tree_path(path)
        for root in self.roots:
            full = os.path.join(root, rel)
            if not os.path.lexists(full):
                continue
            real = os.path.realpath(full)
            if os.path.commonpath([real, root]) != root:
                raise UnsafePath(f"path {path!r} is a symlink that leads out of the state tree")
            return real
        return None

    def read(self, path: str) -> bytes | None:
        full = self._locate(path)
        if full is None or not os.path.isfile(full):
            return None
        with open(full, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise StateError(f"state tree file {path!r} is larger than {MAX_FILE_BYTES} bytes")
        return data

    def list(self, prefix: str) -> list[str]:
        rel = tree_prefix(prefix)
        found: set[str] = set()
        for root in self.roots:
            top = os.path.join(root, rel) if rel else root
            if not os.path.isdir(top) or os.path.commonpath([os.path.realpath(top), root]) != root:
                continue
            for dirpath, _dirs, files in os.walk(top):
                for name in files:
                    full = os.path.join(dirpath, name)
                    if os.path.commonpath([os.path.realpath(full), root]) == root:
                        found.add(os.path.relpath(full, root).replace(os.sep, "/"))
        return sorted(found)


def read_text(tree: StateTree, path: str) -> str | None:
    """A tree file as text (UTF-8), or None if absent."""
    data = tree.read(tree_path(path))
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise StateError(f"state tree file {path!r} is not UTF-8 text") from None
