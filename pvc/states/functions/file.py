"""``file.managed``, ``file.directory``, ``file.absent`` on the local filesystem (plan, then apply).

Each function reads the facts (exists? contents? mode? owner?), builds the changes it would
make, and hands them to :meth:`StateContext.plan` with the apply step, so test mode never
touches the disk and a second run finds nothing to change. ``file.managed`` takes its text from
``contents`` (or ``contents_pillar``/``contents_grains``) or ``source`` (``salt://`` from the state tree, or a local path), optionally
rendered with ``template: jinja`` (the SLS context plus ``defaults`` overridden by ``context``),
checks a new version with ``check_cmd <tempfile>`` before it replaces the old one, and with
``backup: minion`` keeps the old version under the minion's cache.

Example (SLS)::

    /etc/ntp.conf:
      file.managed:
        - source: salt://ntp/files/ntp.conf.jinja
        - template: jinja
        - context: {servers: {{ ntp.servers | json }}}
        - user: root
        - mode: '0644'
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import time
from typing import Any

from pvc.states.context import StateContext
from pvc.states.errors import StateError
from pvc.states.filters import traverse
from pvc.states.functions.fileutil import (
    chown,
    diff,
    first_source,
    mode_of,
    normalize_mode,
    not_absolute,
    ownership_changes,
    read,
    write,
)
from pvc.states.render import RenderContext, render_jinja
from pvc.states.result import StateResult


def _pillar_contents(ctx: StateContext, contents_pillar: str | None, contents_grains: str | None) -> Any:
    """``contents_pillar: ssh:key`` / ``contents_grains: id``: the text is that value."""
    for data, key, what in ((ctx.pillar, contents_pillar, "pillar"), (ctx.grains, contents_grains, "grains")):
        if key is not None:
            found = traverse(data, key, None)
            if found is None:
                raise StateError(f"{what} key {key!r} was not found")
            return found
    return None


def _wanted_text(ctx: StateContext, name: str, contents: Any, source: Any, template: str | None,
                 context: Any, defaults: Any) -> str | None:
    if contents is not None and source is not None:
        raise StateError("Only one of 'contents', 'contents_pillar', 'contents_grains' and 'source' is permitted")
    if isinstance(contents, list):
        contents = "\n".join(str(line) for line in contents)
    if contents is not None:
        return str(contents)
    if source is None:
        return None
    text = first_source(ctx, source)
    if not template:
        return text
    if template != "jinja":
        raise StateError(f"Template format '{template}' is not supported (only jinja)")
    variables = {**(defaults or {}), **(context or {})}
    render = ctx.render or RenderContext(grains=ctx.grains, pillar=ctx.pillar)
    source_path = str(source[0] if isinstance(source, list) else source).removeprefix("salt://")
    return render_jinja(text, sls=name, ctx=render, tplfile=source_path, extra=variables)


def _check(ctx: StateContext, check_cmd: str, data: bytes, name: str) -> StateResult | None:
    """Run ``check_cmd <new file>``; a failure keeps the old file."""
    if ctx.run_cmd is None:
        return StateResult(False, {}, "check_cmd needs a command runner, and this run has none")
    fd, tmp = tempfile.mkstemp(prefix=".pvc-check-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if ctx.run_cmd(f"{check_cmd} {shlex.quote(tmp)}") != 0:
            return StateResult(False, {}, f"check_cmd execution failed: the new {name} was not installed")
    finally:
        os.unlink(tmp)
    return None


def _backup(ctx: StateContext, name: str) -> None:
    stamp = time.strftime("%a_%b_%d_%H:%M:%S_%Y", time.gmtime())
    target = os.path.join(ctx.cache_dir, "file_backup", f"{name.lstrip('/')}_{stamp}")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(name, target)


def managed(ctx: StateContext, name: str, contents: Any = None, source: Any = None, template: str | None = None,
            context: dict[str, Any] | None = None, defaults: dict[str, Any] | None = None,
            contents_newline: bool = True, mode: Any = None, user: Any = None, group: Any = None,
            makedirs: bool = False, replace: bool = True, backup: str = "", check_cmd: str | None = None,
            source_hash: Any = None, skip_verify: bool = False, contents_pillar: str | None = None,
            contents_grains: str | None = None) -> StateResult:
    """Ensure file ``name`` has the wanted contents, mode and owner."""
    bad = not_absolute(name)
    if bad:
        return bad
    try:
        want_mode = normalize_mode(mode)
    except ValueError as exc:
        return StateResult(False, {}, str(exc))
    if os.path.isdir(name):
        return StateResult(False, {}, f"Specified target {name} is a directory")
    parent = os.path.dirname(name)
    if not os.path.isdir(parent) and not makedirs and not ctx.test:  # in a plan, an earlier state may make it
        return StateResult(False, {}, f"Parent directory not present: {parent}")
    if contents is None:
        contents = _pillar_contents(ctx, contents_pillar, contents_grains)
    want = _wanted_text(ctx, name, contents, source, template, context, defaults)
    if want is not None and contents_newline and contents is not None and not want.endswith("\n"):
        want += "\n"
    exists = os.path.isfile(name)
    current = read(name) if exists else None
    changes: dict[str, Any] = {}
    if not exists:
        changes["diff"] = "New file"
    elif want is not None and replace and current != want:
        changes["diff"] = diff(current or "", want)
    if want_mode is not None and (not exists or mode_of(name) != want_mode):
        changes["mode"] = want_mode
    changes.update(ownership_changes(name if exists else None, user, group, ctx.test))
    data = ((want if (want is not None and replace) or not exists else current) or "").encode(
        "utf-8", errors="surrogateescape")
    if "diff" in changes and check_cmd and not ctx.test:
        failed = _check(ctx, check_cmd, data, name)
        if failed:
            return failed

    def apply() -> None:
        os.makedirs(parent, exist_ok=True)
        if "diff" in changes:
            if exists and backup == "minion":
                _backup(ctx, name)
            write(name, data, want_mode)
        elif want_mode is not None:
            os.chmod(name, int(want_mode, 8))
        chown(name, user, group)

    return ctx.plan(changes, apply, comment=f"File {name} updated",
                    unchanged=f"File {name} is in the correct state",
                    test_comment=f"The file {name} is set to be changed")


def directory(ctx: StateContext, name: str, mode: Any = None, dir_mode: Any = None, user: Any = None,
              group: Any = None, makedirs: bool = False) -> StateResult:
    """Ensure directory ``name`` exists (with mode and owner); ``makedirs`` creates missing parents."""
    bad = not_absolute(name)
    if bad:
        return bad
    try:
        want_mode = normalize_mode(dir_mode if dir_mode is not None else mode)
    except ValueError as exc:
        return StateResult(False, {}, str(exc))
    if os.path.lexists(name) and not os.path.isdir(name):
        return StateResult(False, {}, f"Specified location {name} exists and is a file")
    parent = os.path.dirname(name.rstrip("/")) or "/"
    if not os.path.isdir(parent) and not makedirs and not ctx.test:
        return StateResult(False, {}, f"No directory to create {name} in")
    exists = os.path.isdir(name)
    changes: dict[str, Any] = {} if exists else {name: "New Dir"}
    if want_mode is not None and (not exists or mode_of(name) != want_mode):
        changes["mode"] = want_mode
    changes.update(ownership_changes(name if exists else None, user, group, ctx.test))

    def apply() -> None:
        os.makedirs(name, exist_ok=True)
        if want_mode is not None:
            os.chmod(name, int(want_mode, 8))
        chown(name, user, group)

    return ctx.plan(changes, apply, comment=f"Directory {name} updated",
                    unchanged=f"The directory {name} is in the correct state",
                    test_comment=f"The directory {name} is set to be changed")


def absent(ctx: StateContext, name: str) -> StateResult:
    """Ensure nothing exists at ``name`` (a file, a link, or a whole directory tree)."""
    bad = not_absolute(name)
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


FUNCTIONS = (managed, directory, absent)
