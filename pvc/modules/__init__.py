"""Execution modules: plain functions in an explicit registry.

``MODULES`` is the one list of module files the minion loads; add a module by writing
``pvc/modules/<name>.py`` with a ``SPEC = ModuleSpec(...)`` and adding its name here.
Heavy backends (libvirt, rados, pyroute2) are imported inside the functions that use them,
so loading the registry stays cheap and works on a host without them.
"""

from __future__ import annotations

import importlib

from pvc.modules.registry import ModuleSpec, Registry

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


def load_specs(names: tuple[str, ...] = MODULES) -> list[ModuleSpec]:
    """Import the named module files and return their specs; a missing file is a packaging bug."""
    specs = []
    for name in names:
        try:
            mod = importlib.import_module(f"pvc.modules.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"pvc.modules.{name}":
                continue  # module not written yet in this tree
            raise
        specs.append(mod.SPEC)
    return specs


def default_registry() -> Registry:
    return Registry.of(load_specs())
