"""The minion's loaded functions: registry, per-module typed config and contexts.

Shared by the daemon (for every job) and by ``pvc call`` (local runs without a master), so
both execute exactly the same code path.

Example::

    funcs = MinionFunctions(load_minion("/etc/pvc"))
    ret = funcs.call("test.echo", ["hi"], {})      # Return(ok=True, data="hi", ...)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pvc.config import MinionConfig, module_config
from pvc.errors import ConfigError, UnknownFunction
from pvc.execution.context import EventSink, ExecContext, MasterLink, log_events
from pvc.execution.control import JobControl, current_control
from pvc.execution.executor import execute
from pvc.execution.registry import Registry
from pvc.execution.resources import Resources
from pvc.modules import default_registry
from pvc.results import Return

log = logging.getLogger(__name__)


class MinionFunctions:
    def __init__(
        self,
        config: MinionConfig,
        events: EventSink | None = None,
        grains: Mapping[str, Any] | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.config = config
        self.registry = registry or default_registry()
        self.events = events or log_events(log)
        self.resources = Resources()
        unknown = sorted(set(config.modules) - set(self.registry.names()))
        if unknown:
            raise ConfigError(f"minion: modules.{unknown[0]}: no such execution module")
        self._module_configs: dict[str, Any] = {}
        for name in config.modules:  # configured modules load now, so config errors show at start
            self._config_of(name)
        if grains is None:
            from pvc.grains import collect

            grains = collect(config)
        self.grains: Mapping[str, Any] = grains
        self._closers: list[Any] = []

    def _config_of(self, module: str) -> Any:
        if module not in self._module_configs:
            spec = self.registry.module(module)
            self._module_configs[module] = module_config(self.config, module, spec.config)
        return self._module_configs[module]

    def context(self, module: str, jid: str = "", test: bool = False,
                control: JobControl | None = None, master: MasterLink | None = None) -> ExecContext:
        return ExecContext(
            minion_id=self.config.id,
            config=self._config_of(module),
            grains=self.grains,
            log=logging.getLogger(f"pvc.modules.{module}"),
            fire_event=self.events,
            resources=self.resources,
            test=test,
            jid=jid,
            registry=self.registry,
            control=control or current_control() or JobControl(jid),
            master=master,
            context_for=lambda other, other_test: self.context(other, jid, other_test, control, master),
        )

    def start_hooks(self) -> None:
        """Run the ``start`` hook of each module configured under ``modules:`` (daemon only),
        e.g. the libvirt event loop. Unconfigured modules stay unloaded until a job needs them."""
        for spec in self.registry.loaded():
            if spec.start is None:
                continue
            try:
                closer = spec.start(self.context(spec.name))
            except Exception as exc:  # noqa: BLE001 - a missing backend must not stop the minion
                log.warning("module %s: start hook failed: %s", spec.name, exc)
                continue
            if closer is not None:
                self._closers.append(closer)

    def is_inline(self, fun: str) -> bool:
        """Cheap, non-blocking functions run on the I/O thread (see ``ModuleSpec.inline``)."""
        try:
            return self.registry.get(fun).inline
        except UnknownFunction:
            return True  # the error return is cheap too

    def call(self, fun: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
             jid: str = "", test: bool = False, control: JobControl | None = None,
             master: MasterLink | None = None) -> Return:
        """Run ``fun`` now, in this thread. ``control`` is the job's deadline and cancellation
        handle; by default the one the minion's runner made current for this job
        (:class:`pvc.minion.runner.JobRunner`), else a fresh one (``pvc call``). ``master`` is
        the job's way to the master's file server (None under ``pvc call``)."""
        try:
            spec = self.registry.get(fun)
        except UnknownFunction as exc:
            return Return(ok=False, error=str(exc), error_type=type(exc).__name__)
        control = control or current_control() or JobControl(jid, fun)
        ctx = self.context(spec.module.name, jid=jid, test=test, control=control, master=master)
        return execute(spec, ctx, args, kwargs)

    def close(self) -> None:
        for closer in self._closers:
            try:
                closer.close()
            except Exception:  # a broken backend must not stop the others from closing
                log.debug("close hook failed", exc_info=True)
        self.resources.close()
