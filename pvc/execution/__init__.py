"""Running execution-module functions: the registry, the typed context and the executor.

Shared by the minion (every job), ``pvc call`` (local runs) and, later, the state engine, none
of which import each other for it; nothing here imports :mod:`pvc.modules` (the modules import
this). One file per concept: :mod:`.registry` (explicit names, specs), :mod:`.context` (what a
function receives), :mod:`.resources` (shared backend handles, which adapters take too),
:mod:`.arguments` (argument types from annotations), :mod:`.executor` (call -> ``Return``),
:mod:`.control` (a job's deadline and cancellation), :mod:`.lanes` (which worker lane runs a module).

Example::

    registry = Registry()
    registry.add(ModuleSpec("test", functions=(ping,)))
    ret = execute(registry.get("test.ping"), ctx)       # Return(ok=True, data=True, ...)
"""

from __future__ import annotations

from pvc.execution.context import EventSink, ExecContext, log_events
from pvc.execution.control import JobControl, JobKilled, MinionBusy, current_control, use_control
from pvc.execution.executor import execute
from pvc.execution.lanes import CLUSTER, GENERAL, LANES, lane_of
from pvc.execution.registry import FunctionSpec, ModuleSpec, Registry
from pvc.execution.resources import Resources

__all__ = ["CLUSTER", "GENERAL", "LANES", "EventSink", "ExecContext", "FunctionSpec", "JobControl", "JobKilled",
           "MinionBusy", "ModuleSpec", "Registry", "Resources", "current_control", "execute", "lane_of",
           "log_events", "use_control"]
