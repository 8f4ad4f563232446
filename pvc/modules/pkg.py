"""The ``pkg`` module: Debian packages through dpkg and apt-get (argv only, no shell).

``install`` takes one ``name`` (optionally with ``version``), a ``pkgs`` list (names, or
``{name: version}`` items) or ``sources`` (``[{name: /path/to/file.deb}]``: local files, installed
with ``dpkg -i``; the ``pkg.installed`` state fetches ``salt://`` sources first). Every change
function returns Salt's shape: ``{name: {"old": version or "", "new": version or ""}}`` for the
packages whose version changed. apt runs non-interactively and keeps changed config files.

Example: ``pvc call pkg.install pkgs='[vim, {curl: 7.88.1-10+deb12u5}]'``
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from pvc.errors import InvalidArgument
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec
from pvc.modules.syscmd import run_checked

PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]*(:[a-z0-9]+)?$")
VERSION = re.compile(r"^[A-Za-z0-9.+~:-]+$")
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none"}
APT = ["apt-get", "-q", "-y", "-o", "DPkg::Options::=--force-confold", "-o", "DPkg::Options::=--force-confdef"]


def package_name(name: str) -> str:
    if not isinstance(name, str) or not PACKAGE.match(name):
        raise InvalidArgument(f"pkg: {name!r} is not a Debian package name")
    return name


def _env() -> dict[str, str]:
    return {**os.environ, **APT_ENV}


def _database(ctx: ExecContext, status: str) -> dict[str, str]:
    """``{name: version}`` of the packages whose dpkg status starts with ``status``."""
    res = run_checked(ctx, ["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n"],
                      "pkg.list_pkgs")
    out = {}
    for line in res.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[2].startswith(status):
            out[parts[0]] = parts[1]
    return out


def list_pkgs(ctx: ExecContext) -> dict[str, str]:
    """``{name: version}`` of every installed package (dpkg's "installed" status only)."""
    return _database(ctx, "ii")


def list_removed(ctx: ExecContext) -> list[str]:
    """Packages removed with their config files left behind (what ``purge`` still clears)."""
    return sorted(_database(ctx, "rc"))


def version(ctx: ExecContext, *names: str) -> str | dict[str, str]:
    """The installed version of one package ('' if absent), or ``{name: version}`` for several."""
    installed = list_pkgs(ctx)
    found = {package_name(n): installed.get(n, "") for n in names}
    return found[names[0]] if len(names) == 1 else found


def _targets(name: str | None, pkgs: list[Any] | None, version: str | None) -> dict[str, str | None]:
    """``{name: wanted version or None}`` from Salt's three spellings."""
    if pkgs is None:
        if not name:
            raise InvalidArgument("pkg: give a package name or a pkgs list")
        return {package_name(name): _version(version)}
    out: dict[str, str | None] = {}
    for item in pkgs:
        if isinstance(item, Mapping) and len(item) == 1:
            key, value = next(iter(item.items()))
            out[package_name(str(key))] = _version(None if value is None else str(value))
        else:
            out[package_name(str(item))] = None
    return out


def _version(value: str | None) -> str | None:
    if value is not None and (not VERSION.match(value) or value.startswith("-")):
        raise InvalidArgument(f"pkg: {value!r} is not a package version")
    return value


def _diff(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, dict[str, str]]:
    names = set(before) | set(after)
    return {n: {"old": before.get(n, ""), "new": after.get(n, "")} for n in sorted(names)
            if before.get(n) != after.get(n)}


def install(ctx: ExecContext, name: str | None = None, pkgs: list[Any] | None = None, version: str | None = None,
            sources: list[dict[str, str]] | None = None, refresh: bool = False) -> dict[str, Any]:
    """Install packages (apt), or local ``.deb`` files (``sources``); returns what changed.

    Example: ``pvc call pkg.install sources='[{hello: /tmp/hello_1.0_all.deb}]'``
    """
    before = list_pkgs(ctx)
    if sources is not None:
        files = []
        for item in sources:
            if not isinstance(item, Mapping) or len(item) != 1:
                raise InvalidArgument("pkg.install: sources items are {name: /path/to/file.deb}")
            key, path = next(iter(item.items()))
            package_name(str(key))
            if not os.path.isabs(str(path)) or not os.path.isfile(str(path)):
                raise InvalidArgument(f"pkg.install: source {path!r} is not a local .deb file")
            files.append(str(path))
        if ctx.test:
            return {}
        run_checked(ctx, ["dpkg", "-i", "--force-confold", "--", *files], "pkg.install", env=_env())
        return _diff(before, list_pkgs(ctx))
    wanted = _targets(name, pkgs, version)
    if ctx.test:
        return {}
    if refresh:
        refresh_db(ctx)
    specs = [n if v is None else f"{n}={v}" for n, v in wanted.items()]
    run_checked(ctx, [*APT, "install", "--", *specs], "pkg.install", env=_env())
    return _diff(before, list_pkgs(ctx))


def _remove(ctx: ExecContext, verb: str, name: str | None, pkgs: list[Any] | None) -> dict[str, Any]:
    before = list_pkgs(ctx)
    leftovers = set(list_removed(ctx)) if verb == "purge" else set()
    present = [n for n in _targets(name, pkgs, None) if n in before or n in leftovers]
    if ctx.test or not present:
        return {}
    run_checked(ctx, [*APT, verb, "--", *present], f"pkg.{verb}", env=_env())
    return {**{n: {"old": "", "new": ""} for n in present if n in leftovers}, **_diff(before, list_pkgs(ctx))}


def remove(ctx: ExecContext, name: str | None = None, pkgs: list[Any] | None = None) -> dict[str, Any]:
    """Remove packages (their config files stay)."""
    return _remove(ctx, "remove", name, pkgs)


def purge(ctx: ExecContext, name: str | None = None, pkgs: list[Any] | None = None) -> dict[str, Any]:
    """Remove packages and their config files."""
    return _remove(ctx, "purge", name, pkgs)


def refresh_db(ctx: ExecContext) -> bool:
    """``apt-get update``."""
    if ctx.test:
        return False
    run_checked(ctx, [*APT, "update"], "pkg.refresh_db", env=_env())
    return True


SPEC = ModuleSpec("pkg", functions=(list_pkgs, list_removed, version, install, remove, purge, refresh_db))
