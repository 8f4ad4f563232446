"""``file.managed``, ``file.directory``, ``file.absent`` on the local filesystem (plan, then apply).

Each function reads the facts (exists? contents? mode?), builds the changes it would make, and
hands them to :meth:`StateContext.plan` with the apply step, so test mode never touches the disk
and a second run finds nothing to change. Writes are atomic (temp file in the same directory,
then ``os.replace``). Contents come from text only for now (``source: salt://`` comes with the
file server).

Example (SLS)::

    /etc/motd:
      file.managed:
        - contents: Welcome
        - mode: '0644'
        - makedirs: True
"""

from __future__ import annotations

import difflib
import os
import shutil
import stat
import tempfile
from typing import Any

from pvc.states.context import StateContext
from pvc.states.registry import StateModule
from pvc.states.result import StateResult


def normalize_mode(mode: Any) -> str | None:
    """Salt's mode forms -> '0644': 644, '644', '0644', '0o644'. None stays None."""
    if mode is None:
        return None
    text = str(mode).strip().lower().replace("0o", "")
    if not text or any(ch not in "01234567" for ch in text) or len(text.lstrip("0")) > 4:
        raise ValueError(f"mode {mode!r} is not an octal file mode")
    return text.lstrip("0").zfill(4)


def _mode_of(path: str) -> str:
    return format(stat.S_IMODE(os.lstat(path).st_mode), "04o")


def _absolute(name: str) -> StateResult | None:
    if not os.path.isabs(name):
        return StateResult(False, {}, f"Specified file {name} is not an absolute path")
    return None


def _write(path: str, data: bytes, mode: str | None) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if mode is not None:
            os.chmod(tmp, int(mode, 8))
        elif os.path.exists(path):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def managed(ctx: StateContext, name: str, contents: Any = None, contents_newline: bool = True,
            mode: Any = None, makedirs: bool = False, replace: bool = True) -> StateResult:
    """Ensure file ``name`` exists with ``contents`` (a string or a list of lines) and ``mode``."""
    bad = _absolute(name)
    if bad:
        return bad
    try:
        want_mode = normalize_mode(mode)
    except ValueError as exc:
        return StateResult(False, {}, str(exc))
    if os.path.isdir(name):
        return StateResult(False, {}, f"Specified target {name} is a directory")
    parent = os.path.dirname(name)
    if not os.path.isdir(parent) and not makedirs:
        return StateResult(False, {}, f"Parent directory not present: {parent}")
    exists = os.path.isfile(name)
    if isinstance(contents, list):
        contents = "\n".join(str(line) for line in contents)
    want: str | None = None if contents is None else str(contents)
    if want is not None and contents_newline and not want.endswith("\n"):
        want += "\n"
    current = _read(name) if exists else None
    changes: dict[str, Any] = {}
    if not exists:
        changes["diff"] = "New file"
    elif want is not None and replace and current != want:
        changes["diff"] = "".join(difflib.unified_diff(
            (current or "").splitlines(keepends=True), want.splitlines(keepends=True)))
    if want_mode is not None and (not exists or _mode_of(name) != want_mode):
        changes["mode"] = want_mode
    data = (want if (want is not None and replace) or not exists else current) or ""

    def apply() -> None:
        os.makedirs(parent, exist_ok=True)
        if "diff" in changes:
            _write(name, data.encode(), want_mode)
        elif want_mode is not None:
            os.chmod(name, int(want_mode, 8))

    return ctx.plan(changes, apply, comment=f"File {name} updated",
                    unchanged=f"File {name} is in the correct state",
                    test_comment=f"The file {name} is set to be changed")


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        return handle.read()


def directory(ctx: StateContext, name: str, mode: Any = None, makedirs: bool = False) -> StateResult:
    """Ensure directory ``name`` exists (with ``mode``); ``makedirs`` creates missing parents."""
    bad = _absolute(name)
    if bad:
        return bad
    try:
        want_mode = normalize_mode(mode)
    except ValueError as exc:
        return StateResult(False, {}, str(exc))
    if os.path.lexists(name) and not os.path.isdir(name):
        return StateResult(False, {}, f"Specified location {name} exists and is a file")
    parent = os.path.dirname(name.rstrip("/")) or "/"
    if not os.path.isdir(parent) and not makedirs:
        return StateResult(False, {}, f"No directory to create {name} in")
    exists = os.path.isdir(name)
    changes: dict[str, Any] = {} if exists else {name: "New Dir"}
    if want_mode is not None and (not exists or _mode_of(name) != want_mode):
        changes["mode"] = want_mode

    def apply() -> None:
        os.makedirs(name, exist_ok=True)
        if want_mode is not None:
            os.chmod(name, int(want_mode, 8))

    return ctx.plan(changes, apply, comment=f"Directory {name} updated",
                    unchanged=f"The directory {name} is in the correct state",
                    test_comment=f"The directory {name} is set to be changed")


def absent(ctx: StateContext, name: str) -> StateResult:
    """Ensure nothing exists at ``name`` (a file, a link, or a whole directory tree)."""
    bad = _absolute(name)
    if bad:
        return bad
    if os.path.realpath(name) == "/":
        return StateResult(False, {}, 'Refusing to make "/" absent')
    if not os.path.lexists(name):
        return StateResult(True, {}, f"File {name} is not present")

    def apply() -> None:
        if os.path.isdir(name) and not os.path.islink(name):
            shutil.rmtree(name)
        else:
            os.unlink(name)

    return ctx.plan({"removed": name}, apply, comment=f"Removed {name}",
                    test_comment=f"{name} is set for removal")


MODULE = StateModule("file", functions=(managed, directory, absent))
