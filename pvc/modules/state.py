"""The ``state`` module: apply SLS files (Salt's ``state.apply``, ``highstate``, ``show_sls``...).

Under the minion daemon the state tree and the pillar come from the master over the sealed
channel (files cached by content hash, pillar rendered by the master for this minion only).
Under ``pvc call`` -- or with ``file_client: local`` -- they come from this host's
``file_roots``/``pillar_roots`` (the ``state`` section of the minion config; Salt's defaults
``/srv/salt`` and ``/srv/pillar``). ``top.sls`` picks the SLS of a highstate; its matchers see
this minion's id and grains. Returns are Salt's shape (``{tag: {result, comment, changes, ...}}``),
so a failed state is data, not an error; an SLS that does not render or compile is an error.

Example: ``pvc call state.apply motd test=true`` or ``pvc run '*' state.highstate``
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pvc.errors import InvalidArgument
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec

if TYPE_CHECKING:
    from pvc.states.tree import StateTree

TOP = "top.sls"


@dataclass(frozen=True)
class StateConfig:
    """``modules: {state: {...}}`` in the minion config."""

    file_client: str = "remote"  # "local": never ask the master, read file_roots here
    file_roots: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"base": ("/srv/salt",)})
    pillar_roots: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"base": ("/srv/pillar",)})


@dataclass(frozen=True)
class _Run:
    """Where one run reads from, and the pillar it sees."""

    tree: StateTree
    pillar: dict[str, Any]
    saltenv: str


def _config(ctx: ExecContext) -> StateConfig:
    return ctx.config if isinstance(ctx.config, StateConfig) else StateConfig()


def _remote(ctx: ExecContext) -> bool:
    cfg = _config(ctx)
    if cfg.file_client not in ("remote", "local"):
        raise InvalidArgument(f"state: file_client must be 'remote' or 'local', not {cfg.file_client!r}")
    return ctx.master is not None and cfg.file_client == "remote"


def open_tree(ctx: ExecContext, saltenv: str = "base") -> StateTree:
    """The state tree of environment ``saltenv``: the master's (cached by hash) or, under
    ``pvc call`` and ``file_client: local``, this host's ``file_roots``. ``ctx`` is a context of
    this module (other modules get one with ``ctx.context_for("state", test)``)."""
    from pvc.states.tree import FileRoots

    if _remote(ctx):
        from pvc.states.fileclient import RemoteTree

        assert ctx.master is not None
        return RemoteTree(ctx.master, saltenv)
    return FileRoots(_config(ctx).file_roots.get(saltenv, ()), saltenv)


def _open(ctx: ExecContext, saltenv: str, pillar: Mapping[str, Any] | None) -> _Run:
    from pvc.states.pillar import merge, render_pillar
    from pvc.states.tree import FileRoots

    tree = open_tree(ctx, saltenv)
    if _remote(ctx):
        from pvc.states.fileclient import fetch_pillar

        assert ctx.master is not None
        data = fetch_pillar(ctx.master, saltenv)
    else:
        data = render_pillar(FileRoots(_config(ctx).pillar_roots.get(saltenv, ()), saltenv), ctx.minion_id,
                             ctx.grains)
    return _Run(tree, merge(data, pillar or {}), saltenv)


def _inputs(ctx: ExecContext, run: _Run) -> Any:
    from pvc.states.apply import StateInputs
    from pvc.states.caller import RegistryCaller

    caller = None
    if ctx.registry is not None and ctx.context_for is not None:
        caller = RegistryCaller(ctx.registry, ctx.context_for, run.pillar)
    return StateInputs(tree=run.tree, grains=ctx.grains, pillar=run.pillar, opts={"id": ctx.minion_id},
                       caller=caller, minion_id=ctx.minion_id, saltenv=run.saltenv)


def _names(mods: str | list[str] | None) -> list[str]:
    if mods is None:
        return []
    names = mods.split(",") if isinstance(mods, str) else mods
    return [n.strip() for n in names if n.strip()]


def _top_sls(ctx: ExecContext, run: _Run) -> list[str]:
    from pvc.states.render import render_sls
    from pvc.states.top import parse_top
    from pvc.states.tree import read_text

    text = read_text(run.tree, TOP)
    if text is None:
        return []
    data = render_sls(text, sls="top", ctx=_inputs(ctx, run).render_context(), tplfile=TOP)
    return parse_top(data).sls_for(ctx.minion_id, ctx.grains).get(run.saltenv, [])


def _apply(ctx: ExecContext, names: list[str], run: _Run, test: bool) -> dict[str, Any]:
    from pvc.states.apply import apply_sls
    from pvc.states.saltshape import salt_shape

    if not names:
        return {"no_|-states_|-states_|-None": {
            "result": False, "comment": "No Top file or master_tops data matches found.", "name": "states",
            "changes": {}, "__id__": "states", "__run_num__": 0, "__sls__": "", "duration": 0.0, "start_time": ""}}
    started = time.time()
    state_run = apply_sls(names, _inputs(ctx, run), test=test or ctx.test)
    stats = getattr(run.tree, "stats", None)
    if stats is not None:  # what the master's file server moved for this run (tests count it)
        ctx.log.info("state tree from the master: %d requests, %d bytes received, %d files current in the "
                     "cache, %d fetched", stats.requests, stats.bytes, stats.same, stats.fetched)
    return salt_shape(state_run, started)


def apply(ctx: ExecContext, mods: str | list[str] | None = None, test: bool = False,
          pillar: dict[str, Any] | None = None, saltenv: str = "base") -> dict[str, Any]:
    """Apply SLS ``mods`` (comma-separated or a list), or the highstate when none are named.
    ``test=true`` plans only: nothing changes, states that would change say None. ``pillar``
    is merged over the minion's pillar for this run.

    Example: ``pvc run 'hv*' state.apply base,frr test=true``
    """
    run = _open(ctx, saltenv, pillar)
    names = _names(mods)
    return _apply(ctx, names or _top_sls(ctx, run), run, test)


def highstate(ctx: ExecContext, test: bool = False, pillar: dict[str, Any] | None = None,
              saltenv: str = "base") -> dict[str, Any]:
    """Apply every SLS ``top.sls`` gives this minion.

    Example: ``pvc run '*' state.highstate``
    """
    run = _open(ctx, saltenv, pillar)
    return _apply(ctx, _top_sls(ctx, run), run, test)


def sls(ctx: ExecContext, mods: str | list[str], test: bool = False, pillar: dict[str, Any] | None = None,
        saltenv: str = "base") -> dict[str, Any]:
    """Apply the named SLS (comma-separated or a list) and what they include.

    Example: ``pvc call state.sls motd,ntp``
    """
    names = _names(mods)
    if not names:
        raise InvalidArgument("state.sls: name at least one SLS, e.g. state.sls motd")
    return _apply(ctx, names, _open(ctx, saltenv, pillar), test)


def show_sls(ctx: ExecContext, mods: str | list[str], pillar: dict[str, Any] | None = None,
             saltenv: str = "base") -> dict[str, Any]:
    """The compiled states of SLS ``mods`` (id -> state -> arguments), run order; nothing runs.

    Example: ``pvc state show_sls motd hv1``
    """
    from pvc.states.apply import show_sls as compile_names
    from pvc.states.saltshape import high_shape

    run = _open(ctx, saltenv, pillar)
    return high_shape(compile_names(_names(mods), _inputs(ctx, run)), saltenv)


def show_top(ctx: ExecContext, saltenv: str = "base") -> dict[str, list[str]]:
    """The SLS ``top.sls`` gives this minion, per environment.

    Example: ``pvc run '*' state.show_top``
    """
    run = _open(ctx, saltenv, None)
    return {saltenv: _top_sls(ctx, run)}


SPEC = ModuleSpec("state", functions=(apply, highstate, sls, show_sls, show_top), config=StateConfig)
