"""Facts and writes shared by the ``file.*`` states: modes, ownership, atomic writes, diffs, sources.

Writes are atomic (a temp file in the target's directory, then ``os.replace``), so a reader
never sees half a file and a crash leaves the old one. ``source`` is ``salt://path`` (read
through the run's :class:`~pvc.states.tree.StateTree`) or an absolute local path.

Example::

    changes = ownership_changes("/etc/x", user="root", group="adm")    # {'group': 'adm'}
"""

from __future__ import annotations

import difflib
import grp
import os
import pwd
import stat
import tempfile
from typing import Any

from pvc.states.context import StateContext
from pvc.states.errors import StateError
from pvc.states.result import StateResult
from pvc.states.tree import read_text


def normalize_mode(mode: Any) -> str | None:
    """Salt's mode forms -> '0644': 644, '644', '0644', '0o644'. None, and Salt's ``keep`` (the
    source's own mode), leave the mode as it is."""
    if mode is None or str(mode).strip().lower() == "keep":
        return None
    text = str(mode).strip().lower().replace("0o", "")
    if not text or any(ch not in "01234567" for ch in text) or len(text.lstrip("0")) > 4:
        raise ValueError(f"mode {mode!r} is not an octal file mode")
    return text.lstrip("0").zfill(4)


def mode_of(path: str) -> str:
    return format(stat.S_IMODE(os.lstat(path).st_mode), "04o")


def not_absolute(name: str) -> StateResult | None:
    if not os.path.isabs(name):
        return StateResult(False, {}, f"Specified file {name} is not an absolute path")
    return None


def read(path: str) -> str:
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        return handle.read()


def write(path: str, data: bytes, mode: str | None) -> None:
    """Replace ``path`` atomically; keeps the old file's mode unless ``mode`` is given."""
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if mode is not None:
            os.chmod(tmp, int(mode, 8))
        elif os.path.exists(path):
            st = os.stat(path)
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            os.chown(tmp, st.st_uid, st.st_gid)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def diff(old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True)))


def _ids(user: Any, group: Any) -> tuple[int, int]:
    """uid and gid (-1: leave as is) of the named user and group; unknown names raise."""
    try:
        uid = -1 if user is None else (int(user) if str(user).isdigit() else pwd.getpwnam(str(user)).pw_uid)
    except KeyError:
        raise StateError(f"User {user} is not available") from None
    try:
        gid = -1 if group is None else (int(group) if str(group).isdigit() else grp.getgrnam(str(group)).gr_gid)
    except KeyError:
        raise StateError(f"Group {group} is not available") from None
    return uid, gid


def ownership_changes(path: str | None, user: Any, group: Any, test: bool = False) -> dict[str, Any]:
    """What chown would change on ``path`` (None: the file does not exist yet). In test mode an
    owner that does not exist yet (an earlier ``user.present`` creates it) is a planned change."""
    try:
        uid, gid = _ids(user, group)
    except StateError:
        if not test:
            raise
        return {k: str(v) for k, v in (("user", user), ("group", group)) if v is not None}
    st = os.lstat(path) if path is not None and os.path.lexists(path) else None
    changes: dict[str, Any] = {}
    if uid != -1 and (st is None or st.st_uid != uid):
        changes["user"] = str(user)
    if gid != -1 and (st is None or st.st_gid != gid):
        changes["group"] = str(group)
    return changes


def chown(path: str, user: Any, group: Any) -> None:
    uid, gid = _ids(user, group)
    if uid != -1 or gid != -1:
        os.lchown(path, uid, gid)


def source_text(ctx: StateContext, source: str) -> str:
    """The text of ``salt://path`` (from the run's state tree) or of an absolute local file."""
    if source.startswith("salt://"):
        if ctx.tree is None:
            raise StateError(f"Source file {source} needs a state tree, and this run has none")
        text = read_text(ctx.tree, source)
        if text is None:
            raise StateError(f"Source file {source} not found in saltenv '{ctx.tree.saltenv}'")
        return text
    if os.path.isabs(source):
        try:
            return read(source)
        except OSError as exc:
            raise StateError(f"Source file {source} cannot be read: {exc.strerror}") from None
    raise StateError(f"Source {source!r} must be salt://... or an absolute path")


def first_source(ctx: StateContext, source: Any) -> str:
    """Salt accepts a list of sources: the first one that exists is used."""
    options = source if isinstance(source, list) else [source]
    errors = []
    for option in options:
        try:
            return source_text(ctx, str(option))
        except StateError as exc:
            errors.append(str(exc))
    raise StateError("; ".join(errors) if len(errors) == 1 else "None of the sources exist: " + "; ".join(errors))
