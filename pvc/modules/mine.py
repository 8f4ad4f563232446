"""The ``mine`` module: Salt's mine, over the minion's sealed channel to its master.

Minions run their ``mine_functions`` (minion config, Salt's shapes) at start and every
``mine_interval`` minutes (:mod:`pvc.minion.mineschedule`) and send the results to their
master, which keeps the newest per minion and function (:mod:`pvc.master.mine`). Any minion can
then read them, above all from templates::

    mine_functions:
      grains.items: []                          # name: [args]  (a one-key map is a keyword)
      addrs: {mine_function: grains.get, key: ipv4, allow_tgt: "hv*"}
    mine_interval: 60                           # minutes

    {% for host, addrs in salt['mine.get']('hv*', 'addrs').items() %}

A minion writes only its own entries and only reads others'; nothing here runs a job elsewhere.
Under ``pvc call`` there is no master: every function but ``valid`` is then a clear error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pvc.errors import BackendUnavailable, ConfigError, ExecutionError
from pvc.execution.context import ExecContext
from pvc.execution.executor import execute
from pvc.execution.registry import ModuleSpec
from pvc.wire.codec import pack
from pvc.wire.mine import MAX_FUN, MAX_FUNS, MAX_TGT, MineData, MineDelete, MineEntry, MineGet, MineRequest, MineUpdate

MAX_ENTRY = 16 * 1024 * 1024  # bytes of one function's result, packed (the master bounds the rest)


class MineError(ExecutionError):
    """A mine function failed, or the master refused mine data or a lookup."""


@dataclass(frozen=True)
class MineConfig:
    """Salt's top-level ``mine_functions`` and ``mine_interval`` (minutes)."""

    functions: dict[str, Any] = field(default_factory=dict)
    interval: float = 60.0


@dataclass(frozen=True)
class MineFunction:
    """One entry of ``mine_functions``: stored under ``name``, computed by ``fun(*args, **kwargs)``."""

    name: str
    fun: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    allow_tgt: str = ""
    allow_tgt_type: str = "glob"


def mine_function(name: str, spec: Any) -> MineFunction:
    """One ``mine_functions`` entry in Salt's shapes: a list of arguments (a one-key map among
    them is a keyword argument), or a map of keyword arguments; ``mine_function`` names the
    function when the entry's name is an alias, ``allow_tgt``/``allow_tgt_type`` who may read it."""
    where = f"mine_functions.{name[:64]}"
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    if isinstance(spec, list):
        for item in spec:
            if isinstance(item, Mapping) and len(item) == 1:
                kwargs.update(item)
            else:
                args.append(item)
    elif isinstance(spec, Mapping):
        kwargs = dict(spec)
    elif spec is not None:
        raise ConfigError(f"{where}: give a list of arguments or a map of keyword arguments")
    fun, tgt, tgt_type = kwargs.pop("mine_function", name), kwargs.pop("allow_tgt", ""), kwargs.pop("allow_tgt_type", "glob")
    if not isinstance(fun, str) or fun.count(".") != 1 or fun.startswith("mine.") or len(name) > MAX_FUN:
        raise ConfigError(f"{where}: name an execution function as module.function (not mine.*), "
                          "under a name of at most 256 characters")
    if not isinstance(tgt, str) or not isinstance(tgt_type, str) or len(tgt) > MAX_TGT:
        raise ConfigError(f"{where}: allow_tgt and allow_tgt_type must be text")
    return MineFunction(name, fun, tuple(args), kwargs, tgt, tgt_type)


def mine_functions(config: MineConfig) -> list[MineFunction]:
    """Every configured mine function, checked (a ConfigError names the bad one)."""
    if not config.interval > 0:
        raise ConfigError("mine_interval must be a positive number of minutes")
    if len(config.functions) > MAX_FUNS:
        raise ConfigError(f"mine_functions: at most {MAX_FUNS} functions")
    return [mine_function(name, spec) for name, spec in config.functions.items()]


def _config(ctx: ExecContext) -> MineConfig:
    return ctx.config if isinstance(ctx.config, MineConfig) else MineConfig()


def _next_rid(ctx: ExecContext, what: str) -> int:
    if ctx.master is None:
        raise BackendUnavailable(f"mine.{what}: the mine lives on the master, and this call has none "
                                 "(pvc call runs without one)")
    return ctx.master.next_rid()


def _ask(ctx: ExecContext, req: MineRequest, what: str) -> MineData:
    """``req``'s answer from the master (asked again while it is busy); MineError if refused."""
    from pvc.states.fileclient import ask  # the busy-retrying request the file client uses

    assert ctx.master is not None  # every caller took a rid first (_next_rid)
    answer: MineData = ask(ctx.master, req)
    if answer.error:
        raise MineError(f"mine.{what}: {answer.error}")
    return answer


def _entry(ctx: ExecContext, fn: MineFunction) -> MineEntry:
    """Run ``fn`` as the minion would run a job of it; its result as an entry."""
    if ctx.registry is None or ctx.context_for is None:
        raise MineError("mine functions need the minion's function registry")
    spec = ctx.registry.get(fn.fun)
    ret = execute(spec, ctx.context_for(spec.module.name, False), list(fn.args), dict(fn.kwargs))
    if not ret.ok:
        raise MineError(f"{fn.name} ({fn.fun}): {ret.error}")
    if len(pack(ret.data)) > MAX_ENTRY:
        raise MineError(f"{fn.name} ({fn.fun}): result larger than {MAX_ENTRY} bytes")
    return MineEntry(fn.name, ret.data, fn.allow_tgt, fn.allow_tgt_type)


def update(ctx: ExecContext, clear: bool = False) -> dict[str, Any]:
    """Run every ``mine_functions`` entry and send the results to the master (``clear``: they
    replace all this minion's mine data). A failing function is reported and left out.

    Example: ``pvc run 'hv*' mine.update``
    """
    rid = _next_rid(ctx, "update")
    entries, failed = [], {}
    for fn in mine_functions(_config(ctx)):
        try:
            entries.append(_entry(ctx, fn))
        except ExecutionError as exc:
            ctx.log.warning("mine: %s", exc)
            failed[fn.name] = str(exc)
    if entries or clear:
        _ask(ctx, MineUpdate(rid, entries, clear), "update")
    return {"sent": [e.fun for e in entries], "failed": failed}


def send(ctx: ExecContext, name: str, *args: Any, **kwargs: Any) -> bool:
    """Run ``name`` (or ``mine_function=``) with these arguments now and send the result under
    ``name``; ``allow_tgt``/``allow_tgt_type`` say who may read it.

    Example: ``pvc run hv1 mine.send addrs mine_function=grains.get key=ipv4``
    """
    rid = _next_rid(ctx, "send")
    fn = mine_function(name, [*args, *({k: v} for k, v in kwargs.items())])
    _ask(ctx, MineUpdate(rid, [_entry(ctx, fn)]), "send")
    return True


def get(ctx: ExecContext, tgt: str | list[str], fun: str | list[str], tgt_type: str = "glob") -> dict[str, Any]:
    """The mine data ``fun`` of the minions ``tgt`` matches: ``{minion: data}``; for a list of
    functions (or ``a,b``), ``{fun: {minion: data}}`` (Salt's shapes).

    Example (Jinja): ``salt['mine.get']('hv*', 'grains.items')``
    """
    funs = fun if isinstance(fun, list) else [f.strip() for f in fun.split(",") if f.strip()]
    expr = ",".join(tgt) if isinstance(tgt, list) else tgt
    answer = _ask(ctx, MineGet(_next_rid(ctx, "get"), expr, tgt_type, funs), "get")
    if isinstance(fun, str) and "," not in fun:
        return dict(answer.data.get(fun, {}))
    return answer.data


def delete(ctx: ExecContext, fun: str) -> bool:
    """Remove this minion's mine data ``fun`` from the master.

    Example: ``pvc run hv1 mine.delete addrs``
    """
    _ask(ctx, MineDelete(_next_rid(ctx, "delete"), [fun]), "delete")
    return True


def flush(ctx: ExecContext) -> bool:
    """Remove all this minion's mine data from the master.

    Example: ``pvc run hv1 mine.flush``
    """
    _ask(ctx, MineDelete(_next_rid(ctx, "flush"), flush=True), "flush")
    return True


def valid(ctx: ExecContext) -> dict[str, Any]:
    """The configured mine functions as the minion reads them: name -> function and arguments.

    Example: ``pvc call mine.valid``
    """
    return {fn.name: {"mine_function": fn.fun, "args": list(fn.args), "kwargs": fn.kwargs,
                      **({"allow_tgt": fn.allow_tgt, "allow_tgt_type": fn.allow_tgt_type} if fn.allow_tgt else {})}
            for fn in mine_functions(_config(ctx))}


SPEC = ModuleSpec("mine", functions=(get, update, send, delete, flush, valid), config=MineConfig)
