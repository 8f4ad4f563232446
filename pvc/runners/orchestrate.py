"""``state.orchestrate``: an SLS on the master whose states are steps across the cluster.

The SLS (from the master's ``file_roots``) is rendered, compiled and ordered by the state
engine like any other, with three state functions of its own, under the names ``pvc`` and
``salt`` (so Salt orchestration files run unchanged):

- ``pvc.state`` -- apply SLS (``sls:``) or the highstate (``highstate: true``) on ``tgt``; it
  succeeds when every targeted minion returned and none of their states failed;
- ``pvc.function`` -- run execution function ``name`` on ``tgt`` (``arg``, ``kwarg``);
- ``pvc.runner`` -- run runner ``name`` with the other arguments as its keyword arguments.

Requisites order the steps and stop dependants of a failed one; ``failhard`` (on by default)
stops the whole orchestration at the first failure. ``test=True`` passes the flag to state
steps and runs no function or runner. A rolling node upgrade::

    {% for node in ["hv1", "hv2", "hv3"] %}
    flush-{{ node }}:
      pvc.runner: [{name: node.flush, node: "{{ node }}", wait: true}]
    upgrade-{{ node }}:
      pvc.state: [{tgt: "{{ node }}", sls: [upgrade], require: [{pvc: "flush-{{ node }}"}]}]
    ready-{{ node }}:
      pvc.runner: [{name: node.ready, node: "{{ node }}", require: [{pvc: "upgrade-{{ node }}"}]}]
    {% endfor %}

Example: ``pvc runner state.orchestrate orch.upgrade``
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from pvc.errors import InvalidArgument
from pvc.runners.context import RunnerContext
from pvc.runners.registry import RunnerSpec
from pvc.states.context import StateContext
from pvc.states.registry import StateModule, StateRegistry
from pvc.states.result import StateResult

STATE_TIMEOUT = 600.0
FUNCTION_TIMEOUT = 60.0


def _job(rctx: RunnerContext, tgt: str | list[str], tgt_type: str, fun: str, kwargs: Mapping[str, Any],
         args: Sequence[Any], timeout: float) -> Any:
    return rctx.jobs.client().run(tgt, fun, list(args), dict(kwargs), tgt_type=tgt_type, timeout=timeout)


def _state_step(rctx: RunnerContext) -> Any:
    from pvc.states.saltshape import failed

    def state(ctx: StateContext, name: str, tgt: str | list[str], tgt_type: str = "glob",
              sls: str | list[str] | None = None, highstate: bool = False, pillar: dict[str, Any] | None = None,
              test: bool = False, timeout: float = STATE_TIMEOUT) -> StateResult:
        if not sls and not highstate:
            return StateResult(False, {}, f"{name}: give sls: [...] or highstate: true")
        kwargs: dict[str, Any] = {"test": test or ctx.test}
        if sls:
            kwargs["mods"] = sls
        if pillar:
            kwargs["pillar"] = pillar
        result = _job(rctx, tgt, tgt_type, "state.apply", kwargs, (), timeout)
        summary: dict[str, Any] = {}
        bad = dict(result.missing)
        for mid, ret in sorted(result.returns.items()):
            if not ret.ok:
                bad[mid] = ret.error
                continue
            data = ret.data if isinstance(ret.data, dict) else {}
            changed = sum(1 for v in data.values() if isinstance(v, dict) and v.get("changes"))
            summary[mid] = {"states": len(data), "changed": changed}
            if failed(data):
                bad[mid] = "; ".join(f"{v.get('__id__')}: {v.get('comment')}" for v in data.values()
                                     if isinstance(v, dict) and v.get("result") is False)[:2000]
        if not result.minions:
            return StateResult(False, {}, f"No minions matched the target {tgt!r}")
        if bad:
            return StateResult(False, {"ret": summary} if summary else {},
                               "Run failed on minions: " + "; ".join(f"{m}: {why}" for m, why in sorted(bad.items())))
        changes = {"ret": summary} if any(s["changed"] for s in summary.values()) else {}
        return StateResult(None if ctx.test and changes else True, changes,
                           f"States ran successfully on {', '.join(sorted(summary))}.")

    return state


def _function_step(rctx: RunnerContext) -> Any:
    def function(ctx: StateContext, name: str, tgt: str | list[str], tgt_type: str = "glob",
                 arg: list[Any] | None = None, kwarg: dict[str, Any] | None = None,
                 timeout: float = FUNCTION_TIMEOUT) -> StateResult:
        if ctx.test:
            return StateResult(None, {}, f"Function {name} would run on {tgt!r}")
        result = _job(rctx, tgt, tgt_type, name, kwarg or {}, arg or (), timeout)
        bad = {mid: ret.error for mid, ret in result.returns.items() if not ret.ok}
        bad.update(result.missing)
        returned = {mid: ret.data for mid, ret in sorted(result.returns.items()) if ret.ok}
        if not result.minions:
            return StateResult(False, {}, f"No minions matched the target {tgt!r}")
        if bad:
            return StateResult(False, {"ret": returned}, f"Function {name} failed on: " +
                               "; ".join(f"{m}: {why}" for m, why in sorted(bad.items())))
        return StateResult(True, {"ret": returned}, f"Function {name} ran on {', '.join(sorted(returned))}.")

    return function


def _runner_step(rctx: RunnerContext) -> Any:
    def runner(ctx: StateContext, name: str, **kwargs: Any) -> StateResult:
        if ctx.test:
            return StateResult(None, {}, f"Runner {name} would run")
        if rctx.registry is None:
            return StateResult(False, {}, "this orchestration has no runner registry")
        data = rctx.registry.call(rctx, name, (), kwargs)
        return StateResult(True, {"return": data} if data not in (None, {}, []) else {}, f"Runner {name} ran.")

    return runner


def steps(rctx: RunnerContext) -> StateRegistry:
    """The state functions of an orchestration, bound to this runner context."""
    functions = (_state_step(rctx), _function_step(rctx), _runner_step(rctx))
    return StateRegistry([StateModule("pvc", functions), StateModule("salt", functions)])


def orchestrate(ctx: RunnerContext, mods: str, pillar: dict[str, Any] | None = None, saltenv: str = "base",
                failhard: bool = True) -> dict[str, Any]:
    """Run orchestration SLS ``mods`` (from the master's file_roots): steps on minions
    (``pvc.state``, ``pvc.function``) and runners (``pvc.runner``), ordered by requisites,
    stopping at the first failure unless ``failhard=false``. Returns Salt's state shape.

    Example: ``pvc runner state.orchestrate orch.upgrade pillar='{"nodes": [hv1, hv2]}'``
    """
    from pvc.states.apply import StateInputs, apply_sls
    from pvc.states.saltshape import salt_shape
    from pvc.states.tree import FileRoots

    names = [n.strip() for n in mods.split(",") if n.strip()]
    if not names:
        raise InvalidArgument("state.orchestrate: name the orchestration SLS, e.g. orch.upgrade")
    roots = ctx.file_roots.get(saltenv)
    if not roots:
        raise InvalidArgument(f"state.orchestrate: the master has no file_roots for environment {saltenv!r}")
    inputs = StateInputs(tree=FileRoots(roots, saltenv), pillar=pillar or {}, opts={"id": "master"},
                         minion_id="master", saltenv=saltenv)
    started = time.time()
    run = apply_sls(names, inputs, test=ctx.test, failhard=failhard, registry=steps(ctx))
    return salt_shape(run, started)


SPEC = RunnerSpec("state", (orchestrate,))
