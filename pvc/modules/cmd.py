"""The ``cmd`` module: run commands on the minion, Salt's way but without shell injection.

A command is an argv list. A string is split with :func:`shlex.split` and never given to a shell,
so ``cmd.run 'ls; rm -rf /'`` runs ``ls`` with the arguments ``;``, ``rm``, ``-rf`` and ``/``.
Only ``python_shell=True`` (Salt's name for it) runs the string with ``/bin/sh -c``, for pipes
and redirections the operator writes on purpose. The arguments follow Salt's: ``cwd`` (absolute;
default: the minion user's home, as Salt), ``env`` (merged onto the minion's environment),
``stdin``, ``runas`` (a local user; the command runs through ``runuser``), ``timeout`` (seconds; the whole process group gets SIGTERM, then SIGKILL, and the
call fails with "timed out after N s"), ``rstrip`` and ``redirect_stderr``. Arguments read as
YAML by the CLI are turned back into text, so ``pvc call cmd.run true`` runs ``true``.

A call's timeout (or the module default) is the job's deadline, longer or shorter than the
minion's ``job_timeout``, which applies when neither is set. ``pvc job kill`` ends the command's
process group as well.

In test mode (dry run) nothing runs; every function returns the plan instead:
``{"argv": [...], "cwd": ..., "env": {...}, "timeout": ..., "comment": "would run ..."}``.

Module config (minion ``modules: {cmd: {...}}``): ``timeout`` (default deadline in seconds for
calls that give none; 0: the minion's ``job_timeout``), ``max_output`` (bytes kept per stream),
``shell`` (used by ``python_shell=True``).

Example: ``pvc run 'web*' cmd.run_all 'systemctl is-active nginx' timeout=10``
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pvc.errors import InvalidArgument
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec
from pvc.modules.user import account_name
from pvc.process import DEFAULT_MAX_OUTPUT, ProcessResult, run_process

# A command word as the CLI's YAML may type it (``true``, ``2``, ``2.5``): it runs as its text.
Text = Annotated[str | bool | int | float, "text"]


@dataclass(frozen=True)
class CmdConfig:
    timeout: float = 0.0
    max_output: int = DEFAULT_MAX_OUTPUT
    shell: str = "/bin/sh"


@dataclass(frozen=True)
class Command:
    """One validated command, ready to run or to describe in test mode."""

    argv: tuple[str, ...]
    cwd: str
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    timeout: float | None = None

    def plan(self) -> dict[str, Any]:
        return {
            "argv": list(self.argv),
            "cwd": self.cwd,
            "env": dict(self.env),
            "timeout": self.timeout,
            "comment": f"test mode: would run `{shlex.join(self.argv)}`",
        }


def run(ctx: ExecContext, cmd: Text | list[Text], cwd: str | None = None, stdin: str | None = None,
        env: Mapping[str, Text] | None = None, python_shell: bool = False, timeout: float | None = None,
        rstrip: bool = True, redirect_stderr: bool = True, runas: str | None = None) -> str | dict[str, Any]:
    """Run ``cmd`` and return its output as one string (stderr included, as in Salt).

    A non-zero exit status still returns the output (Salt does the same); use ``cmd.run_all``
    or ``cmd.retcode`` to see the status.

    Example: ``pvc run node1 cmd.run 'uname -r'``
    """
    command = _command(ctx, "cmd.run", cmd, cwd, stdin, env, python_shell, timeout, runas)
    if ctx.test:
        return command.plan()
    res = _execute(ctx, command, merge_stderr=redirect_stderr)
    return _strip(res.stdout, rstrip)


def run_all(ctx: ExecContext, cmd: Text | list[Text], cwd: str | None = None, stdin: str | None = None,
            env: Mapping[str, Text] | None = None, python_shell: bool = False, timeout: float | None = None,
            rstrip: bool = True, redirect_stderr: bool = False, runas: str | None = None) -> dict[str, Any]:
    """Run ``cmd`` and return ``{"pid", "retcode", "stdout", "stderr"}``.

    ``retcode`` is the exit status (negative: killed by that signal).

    Example: ``pvc run node1 cmd.run_all '[ls, /nonexistent]'``
    """
    command = _command(ctx, "cmd.run_all", cmd, cwd, stdin, env, python_shell, timeout, runas)
    if ctx.test:
        return command.plan()
    res = _execute(ctx, command, merge_stderr=redirect_stderr)
    return {
        "pid": res.pid,
        "retcode": res.retcode,
        "stdout": _strip(res.stdout, rstrip),
        "stderr": _strip(res.stderr, rstrip),
    }


def retcode(ctx: ExecContext, cmd: Text | list[Text], cwd: str | None = None, stdin: str | None = None,
            env: Mapping[str, Text] | None = None, python_shell: bool = False,
            timeout: float | None = None, runas: str | None = None) -> int | dict[str, Any]:
    """Run ``cmd`` and return only its exit status.

    Example: ``pvc run '*' cmd.retcode 'test -e /etc/ceph/ceph.conf'``
    """
    command = _command(ctx, "cmd.retcode", cmd, cwd, stdin, env, python_shell, timeout, runas)
    if ctx.test:
        return command.plan()
    return _execute(ctx, command, merge_stderr=False).retcode


def _config(ctx: ExecContext) -> CmdConfig:
    return ctx.config if isinstance(ctx.config, CmdConfig) else CmdConfig()


def _command(ctx: ExecContext, fun: str, cmd: Any, cwd: Any, stdin: Any, env: Any,
             python_shell: Any, timeout: Any, runas: str | None = None) -> Command:
    """Validate the arguments shared by every ``cmd`` function into a :class:`Command`."""
    cfg = _config(ctx)
    if python_shell:
        if isinstance(cmd, (list, tuple)):
            raise InvalidArgument(f"{fun}: python_shell=True needs the command as one string")
        argv: tuple[str, ...] = (cfg.shell, "-c", _text(cmd, fun, "cmd"))
    else:
        argv = _argv(cmd, fun)
    home = os.path.expanduser("~")
    variables = _env(env, fun)
    if runas:
        account = _account(runas, fun)
        argv = ("runuser", "-u", account.pw_name, "--", *argv)
        home = account.pw_dir
        variables = {"HOME": home, "USER": account.pw_name, "LOGNAME": account.pw_name, **variables}
    if cwd is None:
        cwd = home if os.path.isdir(home) else "/"
    elif not os.path.isabs(cwd):
        raise InvalidArgument(f"{fun}: cwd must be an absolute path")
    return Command(argv=argv, cwd=cwd, env=variables, stdin=stdin,
                   timeout=_timeout(timeout, cfg, fun))


def _account(runas: str, fun: str) -> pwd.struct_passwd:
    """The user ``runas`` names (must exist; the minion must be root to switch to it)."""
    try:
        return pwd.getpwnam(account_name(runas))
    except KeyError:
        raise InvalidArgument(f"{fun}: runas user {runas!r} does not exist") from None


def has_exec(ctx: ExecContext, cmd: str) -> bool:
    """True if ``cmd`` is an executable on the minion's PATH (or an executable path).

    Example: ``{% if salt['cmd.has_exec']('vtysh') %}``
    """
    return shutil.which(cmd) is not None


def _argv(cmd: Any, fun: str) -> tuple[str, ...]:
    if isinstance(cmd, (list, tuple)):
        argv = tuple(_text(item, fun, "cmd") for item in cmd)
    else:
        try:
            argv = tuple(shlex.split(_text(cmd, fun, "cmd")))
        except ValueError as exc:
            raise InvalidArgument(f"{fun}: cannot split the command into arguments: {exc}") from None
    if not argv or not argv[0]:
        raise InvalidArgument(f"{fun}: the command is empty")
    return argv


def _text(value: Text, fun: str, what: str) -> str:
    """Text of a CLI-typed scalar (YAML made ``true`` a bool and ``2`` an int) or of a string."""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if "\0" in text:
        raise InvalidArgument(f"{fun}: {what} contains a NUL byte")
    return text


def _env(env: Any, fun: str) -> dict[str, str]:
    if env is None:
        return {}
    out = {}
    for key, value in env.items():
        if not key or "=" in key or "\0" in key:
            raise InvalidArgument(f"{fun}: env: invalid variable name {key!r}")
        out[key] = _text(value, fun, f"env.{key}")
    return out


def _timeout(timeout: Any, cfg: CmdConfig, fun: str) -> float | None:
    if timeout is None:
        return cfg.timeout or None
    if not timeout > 0:
        raise InvalidArgument(f"{fun}: timeout must be a positive number of seconds")
    return float(timeout)


def _execute(ctx: ExecContext, command: Command, merge_stderr: bool) -> ProcessResult:
    ctx.log.debug("running %s (cwd %s)", shlex.join(command.argv), command.cwd)
    ctx.control.set_timeout(command.timeout)  # the command's own limit is the job's deadline
    res = run_process(
        command.argv,
        label="cmd",
        cwd=command.cwd,
        env={**os.environ, **command.env},
        stdin=None if command.stdin is None else command.stdin.encode(),
        timeout=command.timeout,
        merge_stderr=merge_stderr,
        max_output=_config(ctx).max_output,
        control=ctx.control,
    )
    if res.retcode:
        ctx.log.info("`%s` exited with status %d", shlex.join(command.argv), res.retcode)
    return res


def _strip(text: str, rstrip: bool) -> str:
    return text.rstrip() if rstrip else text


SPEC = ModuleSpec(
    "cmd",
    functions=(run, run_all, retcode, has_exec),
    config=CmdConfig,
)
