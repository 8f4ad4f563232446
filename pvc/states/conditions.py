"""The per-state options around the call: ``onlyif``/``unless``/``creates``, ``check_cmd``, ``retry``.

``onlyif``/``unless`` entries are shell commands (run through the run's command runner, as
``runas`` when the state has one) or, as in Salt, ``{fun: mod.fun, args: [...]}`` mappings whose
truthy return counts as success. ``check_cmd`` runs after a state that changed something; a
non-zero exit fails the state (``file.managed`` takes ``check_cmd`` itself: it checks the new
file before it replaces the old one). ``retry`` re-runs a state until its result is ``until``.

Example (SLS)::

    fetch-image:
      cmd.run:
        - name: curl -fo /srv/img http://mirror/img
        - creates: /srv/img
        - retry: {attempts: 3, interval: 5}
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from pvc.errors import PvcError
from pvc.states.chunks import Chunk
from pvc.states.context import StateContext
from pvc.states.errors import StateError
from pvc.states.result import StateResult

MAX_ATTEMPTS = 1000
MAX_INTERVAL = 3600.0


def _passes(ctx: StateContext, entry: Any, runas: str | None) -> bool:
    """One ``onlyif``/``unless`` entry: True when the command exits 0 / the function is truthy."""
    if isinstance(entry, dict):
        fun = entry.get("fun")
        if not isinstance(fun, str) or ctx.caller is None:
            raise StateError(f"condition {entry!r} needs 'fun: mod.fun' and a run with execution functions")
        args = entry.get("args", [])
        kwargs = {k: v for k, v in entry.items() if k not in ("fun", "args")}
        return bool(ctx.caller.call(fun, args if isinstance(args, list) else [args], kwargs))
    if isinstance(entry, bool):
        return entry
    if ctx.run_cmd is None:
        raise StateError("onlyif/unless need a command runner, and this run has none")
    return ctx.run_cmd(str(entry), runas) == 0


def condition_result(chunk: Chunk, ctx: StateContext) -> StateResult | None:
    """A 'skipped' result when ``onlyif``/``unless``/``creates`` say the state need not run."""
    runas = chunk.args.get("runas")
    runas = str(runas) if runas else None
    try:
        if chunk.onlyif and not all(_passes(ctx, entry, runas) for entry in chunk.onlyif):
            return StateResult(True, {}, "onlyif condition is false")
        if chunk.unless and all(_passes(ctx, entry, runas) for entry in chunk.unless):
            return StateResult(True, {}, "unless condition is true")
    except PvcError as exc:
        return StateResult(False, {}, f"condition failed to run: {exc}")
    if chunk.creates and all(os.path.exists(path) for path in chunk.creates):
        return StateResult(True, {}, "All files in creates exist")
    return None


def check_cmd(chunk: Chunk, ctx: StateContext, result: StateResult) -> StateResult:
    """Run the state's ``check_cmd`` commands after it changed something (not in test mode)."""
    commands = chunk.args.get("check_cmd")
    if not commands or chunk.state == "file" or ctx.test or not result.changes or result.result is False:
        return result
    if ctx.run_cmd is None:
        return replace(result, result=False, comment=f"{result.comment}\ncheck_cmd needs a command runner")
    runas = chunk.args.get("runas")
    for command in commands if isinstance(commands, list) else [commands]:
        if ctx.run_cmd(str(command), str(runas) if runas else None) != 0:
            return replace(result, result=False, comment=f"check_cmd determined the state failed: `{command}`")
    return result


@dataclass(frozen=True)
class RetryPolicy:
    """Salt's defaults: 2 attempts, until True, 30 s apart, no splay."""

    attempts: int = 2
    until: bool | None = True
    interval: float = 30.0
    splay: float = 0.0

    @classmethod
    def parse(cls, value: Any) -> RetryPolicy | None:
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if not isinstance(value, dict) or set(value) - {"attempts", "until", "interval", "splay"}:
            raise StateError(f"retry must be True or a mapping of attempts/until/interval/splay, not {value!r}")
        policy = cls(**value)
        if not (isinstance(policy.attempts, int) and 1 <= policy.attempts <= MAX_ATTEMPTS):
            raise StateError(f"retry: attempts must be a whole number from 1 to {MAX_ATTEMPTS}")
        for name in ("interval", "splay"):
            number = getattr(policy, name)
            if not isinstance(number, int | float) or not 0 <= number <= MAX_INTERVAL:
                raise StateError(f"retry: {name} must be between 0 and {MAX_INTERVAL:g} seconds")
        return policy


def with_retry(chunk: Chunk, ctx: StateContext, call: Callable[[], StateResult],
               sleep: Callable[[float], None] = time.sleep) -> StateResult:
    """Call until the result is the policy's ``until`` or the attempts are used (no retry in test)."""
    try:
        policy = RetryPolicy.parse(chunk.retry)
    except (StateError, TypeError) as exc:
        return StateResult(False, {}, str(exc))
    result = call()
    if policy is None or ctx.test:
        return result
    duration = result.duration
    comments = [result.comment]
    attempt = 1
    while result.result is not policy.until and attempt < policy.attempts:
        sleep(policy.interval + random.uniform(0, policy.splay))
        attempt += 1
        result = call()
        duration += result.duration
        comments.append(f"Attempt {attempt}: Returned a result of \"{result.result}\", with the following "
                        f"comment: \"{result.comment}\"")
    return replace(result, comment="\n".join(comments), duration=duration)
