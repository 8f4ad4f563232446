"""The ``file.*`` states that edit part of a file: ``replace``, ``append``, ``blockreplace``,
``line``, and ``symlink``.

Each computes the whole new text from the current one with a pure function, then plans the
diff (:func:`edit`): test mode shows the diff, a second run finds the text already right.

Example (SLS)::

    /etc/ssh/sshd_config:
      file.replace:
        - pattern: '^#?PermitRootLogin .*'
        - repl: PermitRootLogin no
        - append_if_not_found: True
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from pvc.states.context import StateContext
from pvc.states.errors import StateError
from pvc.states.functions.fileutil import chown, diff, not_absolute, ownership_changes, read, write
from pvc.states.result import StateResult


def edit(ctx: StateContext, name: str, change: Callable[[str], str], *, create: bool = False,
         missing_ok: bool = False) -> StateResult:
    """Plan and apply ``change(current text)`` on file ``name``."""
    bad = not_absolute(name)
    if bad:
        return bad
    exists = os.path.isfile(name)
    if not exists and not create:
        if missing_ok:
            return StateResult(True, {}, f"{name}: file not found, nothing to do (ignore_if_missing)")
        return StateResult(False, {}, f"{name}: file not found")
    if not exists and not os.path.isdir(os.path.dirname(name)):
        return StateResult(False, {}, f"{name}: parent directory does not exist")
    current = read(name) if exists else ""
    try:
        new = change(current)
    except (re.error, StateError) as exc:
        return StateResult(False, {}, f"{name}: {exc}")
    if new == current and exists:
        return StateResult(True, {}, f"File {name} is in the correct state")
    changes = {"diff": diff(current, new) if exists else "New file"}
    return ctx.plan(changes, lambda: write(name, new.encode("utf-8", errors="surrogateescape"), None),
                    comment=f"Changes were made to {name}", test_comment=f"Changes would have been made to {name}")


def _flags(flags: Any) -> int:
    if isinstance(flags, int):
        return flags
    out = 0
    for flag in flags if isinstance(flags, list) else [flags]:
        value = getattr(re, str(flag).upper(), None)
        if not isinstance(value, re.RegexFlag):
            raise StateError(f"unknown regex flag {flag!r}")
        out |= value
    return out


def _lines_text(text: Any) -> list[str]:
    if isinstance(text, list):
        return [str(item) for item in text]
    return str(text).splitlines() or [""]


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def replace(ctx: StateContext, name: str, pattern: str, repl: str, count: int = 0, flags: Any = 8,
            append_if_not_found: bool = False, prepend_if_not_found: bool = False,
            not_found_content: str | None = None, ignore_if_missing: bool = False) -> StateResult:
    """Substitute ``pattern`` (a regex, multi-line by default as in Salt) with ``repl``."""

    def change(text: str) -> str:
        regex = re.compile(pattern, _flags(flags))
        if regex.search(text):
            return regex.sub(repl, text, count=count)
        line = not_found_content if not_found_content is not None else repl
        if append_if_not_found:
            return _with_newline(text) + _with_newline(line)
        if prepend_if_not_found:
            return _with_newline(line) + text
        return text

    return edit(ctx, name, change, missing_ok=ignore_if_missing)


def append(ctx: StateContext, name: str, text: Any, makedirs: bool = False) -> StateResult:
    """Append each line of ``text`` that the file does not contain yet (creates the file)."""
    if makedirs and os.path.isabs(name) and not ctx.test:
        os.makedirs(os.path.dirname(name), exist_ok=True)

    def change(current: str) -> str:
        missing = [line for line in _lines_text(text) if line not in current.splitlines()]
        return _with_newline(current) + "".join(line + "\n" for line in missing) if missing else current

    return edit(ctx, name, change, create=True)


def blockreplace(ctx: StateContext, name: str, marker_start: str = "#-- start managed zone --",
                 marker_end: str = "#-- end managed zone --", content: str = "", append_if_not_found: bool = False,
                 prepend_if_not_found: bool = False, show_changes: bool = True) -> StateResult:
    """Replace the lines between the marker lines with ``content`` (markers kept)."""
    body = _with_newline(str(content))

    def change(text: str) -> str:
        lines = text.splitlines(keepends=True)
        start = next((i for i, line in enumerate(lines) if line.strip() == marker_start.strip()), None)
        end = None if start is None else next(
            (i for i in range(start + 1, len(lines)) if lines[i].strip() == marker_end.strip()), None)
        block = f"{marker_start}\n{body}{marker_end}\n"
        if start is not None and end is not None:
            return "".join(lines[:start]) + block + "".join(lines[end + 1:])
        if start is not None:
            raise StateError(f"found the start marker {marker_start!r} but no end marker {marker_end!r}")
        if append_if_not_found:
            return _with_newline(text) + block
        if prepend_if_not_found:
            return block + text
        raise StateError(f"markers not found: {marker_start!r} ... {marker_end!r}")

    return edit(ctx, name, change)


LINE_MODES = ("ensure", "replace", "delete", "insert")


def line(ctx: StateContext, name: str, content: str = "", match: str | None = None, mode: str | None = None,
         location: str | None = None, before: str | None = None, after: str | None = None,
         create: bool = False) -> StateResult:
    """One line: ``replace`` the lines matching ``match``, ``delete`` them, ``insert`` it (at
    ``location`` start/end, or ``before``/``after`` a matching line), or ``ensure`` it sits
    right ``after``/``before`` a matching line."""
    if mode not in LINE_MODES:
        return StateResult(False, {}, f"file.line: mode must be one of {', '.join(LINE_MODES)}")

    def change(text: str) -> str:
        lines = text.splitlines()
        matcher = re.compile(match if match is not None else re.escape(content))
        if mode == "delete":
            kept = [item for item in lines if not matcher.search(item)]
        elif mode == "replace":
            kept = [content if matcher.search(item) else item for item in lines]
        elif content in lines:
            kept = lines
        else:
            kept = _insert(lines, content, location, before, after)
        return "".join(item + "\n" for item in kept) if kept != lines else text

    return edit(ctx, name, change, create=create)


def _insert(lines: list[str], content: str, location: str | None, before: str | None, after: str | None) -> list[str]:
    if after is not None:
        found = [i for i, item in enumerate(lines) if re.search(after, item)]
        if not found:
            raise StateError(f"no line matches after={after!r}")
        return [*lines[:found[-1] + 1], content, *lines[found[-1] + 1:]]
    if before is not None:
        found = [i for i, item in enumerate(lines) if re.search(before, item)]
        if not found:
            raise StateError(f"no line matches before={before!r}")
        return [*lines[:found[0]], content, *lines[found[0]:]]
    return [content, *lines] if location == "start" else [*lines, content]


def symlink(ctx: StateContext, name: str, target: str, force: bool = False, makedirs: bool = False,
            user: Any = None, group: Any = None) -> StateResult:
    """Ensure ``name`` is a symlink to ``target`` (``force`` replaces a file in the way)."""
    bad = not_absolute(name)
    if bad:
        return bad
    parent = os.path.dirname(name)
    if not os.path.isdir(parent) and not makedirs and not ctx.test:
        return StateResult(False, {}, f"Directory {parent} for symlink is not present")
    is_link = os.path.islink(name)
    if is_link and os.readlink(name) == target:
        changes = ownership_changes(name, user, group, ctx.test)
        return ctx.plan(changes, lambda: chown(name, user, group), comment=f"Symlink {name} ownership set",
                        unchanged=f"Symlink {name} is present and owned by {user or 'its owner'}")
    if os.path.lexists(name) and not is_link and not force:
        return StateResult(False, {}, f"File exists where the symlink {name} should be (use force: True)")
    if os.path.isdir(name) and not is_link:
        return StateResult(False, {}, f"A directory is where the symlink {name} should be; not removing it")

    def apply() -> None:
        os.makedirs(parent, exist_ok=True)
        tmp = f"{name}.pvc-link"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        os.replace(tmp, name)
        chown(name, user, group)

    return ctx.plan({"new": name, "target": target}, apply, comment=f"Created new symlink {name} -> {target}",
                    test_comment=f"Symlink {name} to {target} is set for creation")


FUNCTIONS = (replace, append, blockreplace, line, symlink)
