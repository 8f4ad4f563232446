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
    "state",
    "pillar",
    "config",
    "defaults",
    "slsutil",
    "log",
    "file",
    "user",
    "group",
    "pkg",
    "sysctl",
    "timezone",
    "service",
    "cp",
    "mine",
)


def _spec(name: str) -> ModuleSpec:
    """Import one module by a literal name (never an import computed from a string)."""
    match name:
        case "test":
            from pvc.modules import test as test_module
            return test_module.SPEC
        case "cmd":
            from pvc.modules import cmd as cmd_module
            return cmd_module.SPEC
        case "sys":
            from pvc.modules import sys as sys_module
            return sys_module.SPEC
        case "grains":
            from pvc.modules import grains as grains_module
            return grains_module.SPEC
        case "virt":
            from pvc.modules import virt as virt_module
            return virt_module.SPEC
        case "ceph":
            from pvc.modules import ceph as ceph_module
            return ceph_module.SPEC
        case "network":
            from pvc.modules import network as network_module
            return network_module.SPEC
        case "frr":
            from pvc.modules import frr as frr_module
            return frr_module.SPEC
        case "dnsmasq":
            from pvc.modules import dnsmasq as dnsmasq_module
            return dnsmasq_module.SPEC
        case "state":
            from pvc.modules import state as state_module
            return state_module.SPEC
        case "pillar":
            from pvc.modules import pillar as pillar_module
            return pillar_module.SPEC
        case "config":
            from pvc.modules import config as config_module
            return config_module.SPEC
        case "defaults":
            from pvc.modules import defaults as defaults_module
            return defaults_module.SPEC
        case "slsutil":
            from pvc.modules import slsutil as slsutil_module
            return slsutil_module.SPEC
        case "log":
            from pvc.modules import log as log_module
            return log_module.SPEC
        case "file":
            from pvc.modules import file as file_module
            return file_module.SPEC
        case "user":
            from pvc.modules import user as user_module
            return user_module.SPEC
        case "group":
            from pvc.modules import group as group_module
            return group_module.SPEC
        case "pkg":
            from pvc.modules import pkg as pkg_module
            return pkg_module.SPEC
        case "sysctl":
            from pvc.modules import sysctl as sysctl_module
            return sysctl_module.SPEC
        case "timezone":
            from pvc.modules import timezone as timezone_module
            return timezone_module.SPEC
        case "service":
            from pvc.modules import service as service_module
            return service_module.SPEC
        case "cp":
            from pvc.modules import cp as cp_module
            return cp_module.SPEC
        case "mine":
            from pvc.modules import mine as mine_module
            return mine_module.SPEC
    raise LookupError(f"no execution module {name!r}")


def _loader(name: str) -> Callable[[], ModuleSpec]:
    return lambda: _spec(name)


def default_registry() -> Registry:
    """Every module of ``MODULES``, each imported on first use."""
    reg = Registry()
    for name in MODULES:
        reg.declare(name, _loader(name))
    return reg
