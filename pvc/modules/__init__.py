"""Execution modules: plain functions in an explicit registry.

``MODULES`` is the one list of module files the minion offers; add a module by writing
``pvc/modules/<name>.py`` (or a package, like ``ceph/``) with a ``SPEC = ModuleSpec(...)`` and
adding its name here. Each is imported on first use (see :class:`pvc.execution.Registry`).
A module is a thin layer: it reads its config and context, then calls an adapter
(:mod:`pvc.virt`, :mod:`pvc.ceph`, ...) with a URI or config and ``ctx.resources``. Argument
types come from the annotations (checked by :mod:`pvc.execution.arguments`), so a module checks
only ranges and formats. Heavy backends (libvirt, rados, pyroute2) are imported inside the
functions that use them, so loading the registry stays cheap and works on a host without them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from pvc.execution.registry import ModuleSpec, Registry

MODULES: tuple[str, ...] = (
    "test",
    "cmd",
    "sys",
    "grains",
    "virt",
    "ceph",
    "network",
    "frr",
    "dnsmasq",
)


def _loader(name: str) -> Callable[[], ModuleSpec]:
    def load() -> ModuleSpec:
        spec: ModuleSpec = importlib.import_module(f"pvc.modules.{name}").SPEC
        return spec

    return load


def default_registry() -> Registry:
    """Every module of ``MODULES``, each imported on first use."""
    reg = Registry()
    for name in MODULES:
        reg.declare(name, _loader(name))
    return reg
