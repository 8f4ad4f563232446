"""The entry points of the state system: :func:`apply_sls` and :func:`show_sls`.

Everything a run needs comes in as arguments: the state tree (a :class:`~pvc.states.tree.
StateTree`: local ``file_roots`` or the master's file server), the pillar (rendered by the
master for this minion), the grains and options, and an :class:`~pvc.states.caller.ExecCaller`
for the execution functions templates and state functions call. Highstate is the same call
with the SLS names that ``top.sls`` selects for this minion.

Example::

    run = apply_sls(["base"], StateInputs(tree=FileRoots(["/srv/salt"]), grains=grains,
                    pillar=pillar, caller=caller), test=True)
    run.ok, [r.result.comment for r in run.results]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pvc.states.caller import ExecCaller
from pvc.states.chunks import Chunk
from pvc.states.compile import SlsLoader, SlsSource, compile_sls
from pvc.states.context import CommandRunner, StateContext
from pvc.states.engine import apply_chunks
from pvc.states.errors import SlsNotFound
from pvc.states.functions import default_registry
from pvc.states.order import order_chunks
from pvc.states.registry import StateRegistry
from pvc.states.render import RenderContext, SaltFunctions, render_sls
from pvc.states.result import StateRun
from pvc.states.tree import StateTree, list_dirs, read_text, sls_candidates

# what formulas read from ``opts`` (libsaltcli.jinja: which Salt command renders them); a
# caller may say "salt-call" for a masterless run
OPTS_DEFAULTS = {"__cli": "salt-minion"}


@dataclass(frozen=True)
class StateInputs:
    """What one minion's state run reads: its tree, facts, pillar and execution functions."""

    tree: StateTree
    grains: Mapping[str, Any] = field(default_factory=dict)
    pillar: Mapping[str, Any] = field(default_factory=dict)
    opts: Mapping[str, Any] = field(default_factory=dict)
    caller: ExecCaller | None = None
    minion_id: str = ""
    saltenv: str = "base"

    def render_context(self) -> RenderContext:
        tree = self.tree
        return RenderContext(
            grains=self.grains, pillar=self.pillar, opts={**OPTS_DEFAULTS, **self.opts},
            salt=SaltFunctions(tree_functions(tree), caller=self.caller), saltenv=self.saltenv,
            sources=lambda path: read_text(tree, path),
        )

    def state_context(self, test: bool) -> StateContext:
        return StateContext(
            test=test, minion_id=self.minion_id, grains=self.grains, pillar=self.pillar,
            run_cmd=None if self.caller is None else _shell_runner(self.caller), caller=self.caller,
            tree=self.tree, render=self.render_context(),
        )


def tree_functions(tree: StateTree) -> dict[str, Callable[..., Any]]:
    """``cp.list_master``/``cp.list_master_dirs`` in a template list the tree this run reads
    (the master's file server, or the local ``file_roots`` under ``pvc call``), as Salt's do."""

    def list_master(saltenv: str = "base", prefix: str = "") -> list[str]:
        return tree.list(prefix)

    def list_master_dirs(saltenv: str = "base", prefix: str = "") -> list[str]:
        return list_dirs(tree, prefix)

    return {"cp.list_master": list_master, "cp.list_master_dirs": list_master_dirs}


def _shell_runner(caller: ExecCaller) -> CommandRunner:
    """``unless``/``onlyif``/``check_cmd`` commands: shell strings, as in Salt, run by ``cmd.retcode``
    (even in test mode: they decide what the plan is)."""

    def run_cmd(command: str, runas: str | None = None) -> int:
        kwargs: dict[str, Any] = {"python_shell": True, **({"runas": runas} if runas else {})}
        return int(caller.call("cmd.retcode", [command], kwargs))

    return run_cmd


def sls_loader(inputs: StateInputs) -> SlsLoader:
    """A compile-time loader: SLS name -> rendered high data (and whether it was an init.sls)."""
    ctx = inputs.render_context()

    def load(sls: str) -> SlsSource:
        for path, init in sls_candidates(sls):
            text = read_text(inputs.tree, path)
            if text is not None:
                return SlsSource(render_sls(text, sls=sls, ctx=ctx, tplfile=path), init=init)
        raise SlsNotFound(sls)

    return load


def show_sls(names: Sequence[str], inputs: StateInputs) -> list[Chunk]:
    """The chunks ``names`` compile to, in run order (raises CompileError/RenderError/cycles)."""
    return order_chunks(compile_sls(list(names), sls_loader(inputs)))


def apply_sls(names: Sequence[str], inputs: StateInputs, *, test: bool = False, failhard: bool = False,
              registry: StateRegistry | None = None) -> StateRun:
    """Render, compile, order and run ``names`` (and what they include). ``test=True`` plans only."""
    chunks = show_sls(names, inputs)
    return apply_chunks(chunks, registry or default_registry(), inputs.state_context(test), failhard=failhard)
