"""Run one system tool for a module (``useradd``, ``apt-get``, ``sysctl``...) and fail clearly.

Modules that manage the host through its own tools share this: argv only (no shell), the job's
deadline and kill handle (through :func:`pvc.process.run_process`), and a non-zero exit turned
into an :class:`~pvc.errors.ExecutionError` that quotes the tool's own message.

Example::

    run_checked(ctx, ["groupadd", "--system", "pvcadm"], "group.add")
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from pvc.errors import ExecutionError
from pvc.execution.context import ExecContext
from pvc.process import ProcessResult, run_process

TOOL_TIMEOUT = 600.0


def run_checked(ctx: ExecContext, argv: Sequence[str], label: str, *, env: Mapping[str, str] | None = None,
                ok_codes: tuple[int, ...] = (0,), timeout: float = TOOL_TIMEOUT) -> ProcessResult:
    ctx.log.debug("%s: running %s", label, shlex.join(argv))
    res = run_process(list(argv), label=label, env=env, timeout=timeout, control=ctx.control)
    if res.retcode not in ok_codes:
        why = (res.stderr or res.stdout).strip().splitlines()
        raise ExecutionError(f"{label}: `{shlex.join(argv)}` failed (exit {res.retcode}): "
                             f"{why[-1] if why else 'no output'}")
    return res
