"""``ssh_auth.present``/``ssh_auth.absent``: keys in a user's ``authorized_keys``.

A key is identified by its base64 blob; ``name`` is the blob alone (``enc``/``comment``/
``options`` as arguments) or a whole ``[options] enc blob [comment]`` line. The file is created
with mode 0600 in a 0700 ``.ssh`` directory owned by the user; a line with the same key but
other options or comment is replaced.

Example (SLS)::

    AAAAC3NzaC1lZDI1NTE5AAAAI...:
      ssh_auth.present:
        - user: alice
        - enc: ssh-ed25519
        - comment: alice@laptop
"""

from __future__ import annotations

import os
import re
from typing import Any

from pvc.states.context import StateContext
from pvc.states.errors import StateError
from pvc.states.functions.file_edit import edit
from pvc.states.functions.fileutil import chown
from pvc.states.registry import StateModule
from pvc.states.result import StateResult

KEY_TYPES = re.compile(r"^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+)$")
BLOB = re.compile(r"^[A-Za-z0-9+/]+={0,3}$")


def _parse(name: str, enc: str, comment: str, options: list[str] | None) -> tuple[str, str]:
    """(blob, the full line to keep in the file)."""
    fields = name.split()
    if len(fields) == 1:
        blob, opts, key_enc, text = fields[0], options or [], enc, comment
    else:
        at = next((i for i, f in enumerate(fields) if KEY_TYPES.match(f)), None)
        if at is None or at + 1 >= len(fields):
            raise StateError(f"ssh_auth: {name[:40]!r}... is not an 'enc key [comment]' line")
        opts = [fields[0]] if at == 1 else list(options or [])
        key_enc, blob, text = fields[at], fields[at + 1], " ".join(fields[at + 2:]) or comment
    if not BLOB.match(blob) or not KEY_TYPES.match(key_enc):
        raise StateError(f"ssh_auth: invalid key or key type {key_enc!r}")
    line = " ".join(part for part in (",".join(opts), key_enc, blob, text) if part)
    return blob, line


def _key_file(ctx: StateContext, user: str, config: str) -> tuple[str, dict[str, Any]]:
    """The key file's path; a symlink on the way is refused (the user owns the home directory,
    and a link there must not make root write another file)."""
    info = ctx.call("user.info", user)
    if not info:
        raise StateError(f"User {user} does not exist")
    path = config if os.path.isabs(config) else os.path.join(info["home"], config)
    for here in (path, os.path.dirname(path)):
        if os.path.islink(here):
            raise StateError(f"Refusing to write {path}: {here} is a symlink")
    return path, info


def _blob_of(line: str) -> str | None:
    fields = line.split()
    at = next((i for i, f in enumerate(fields) if KEY_TYPES.match(f)), None)
    return fields[at + 1] if at is not None and at + 1 < len(fields) else None


def present(ctx: StateContext, name: str, user: str, enc: str = "ssh-rsa", comment: str = "",
            options: list[str] | None = None, config: str = ".ssh/authorized_keys") -> StateResult:
    """Ensure the key is authorized for ``user``."""
    blob, line = _parse(name, enc, comment, options)
    if ctx.test and not ctx.call("user.info", user):  # an earlier user.present may create the user
        return StateResult(None, {name: "New"}, f"Key would be added for {user} once the user exists")
    path, info = _key_file(ctx, user, config)
    parent = os.path.dirname(path)
    if not os.path.isdir(parent) and not ctx.test:
        os.makedirs(parent, mode=0o700)
        chown(parent, info["uid"], info["gid"])

    def change(text: str) -> str:
        lines = text.splitlines()
        if line in lines:
            return text
        kept = [item for item in lines if _blob_of(item) != blob]
        return "".join(f"{item}\n" for item in [*kept, line])

    if ctx.test and not os.path.isfile(path):
        return StateResult(None, {name: "New"}, f"Key {name[:20]}... is set to be added for {user}")
    created = not os.path.exists(path)
    result = edit(ctx, path, change, create=True)
    if result.result and created and not ctx.test:
        os.chmod(path, 0o600)
        chown(path, info["uid"], info["gid"])
    return result


def absent(ctx: StateContext, name: str, user: str, enc: str = "ssh-rsa", comment: str = "",
           options: list[str] | None = None, config: str = ".ssh/authorized_keys") -> StateResult:
    """Ensure the key is not authorized for ``user`` (a malformed key is, by definition, absent)."""
    try:
        blob, _ = _parse(name, enc, comment, options)
    except StateError:
        return StateResult(True, {}, f"Key {name[:20]}... is not a valid key: nothing to remove")
    path, _info = _key_file(ctx, user, config)
    if not os.path.isfile(path):
        return StateResult(True, {}, f"Key not present for {user}")
    return edit(ctx, path, lambda text: "".join(
        f"{item}\n" for item in text.splitlines() if _blob_of(item) != blob) if blob in text else text)


MODULE = StateModule("ssh_auth", functions=(present, absent))
