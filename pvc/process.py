"""Run one child process with a deadline and bounded output: the subprocess edge of the modules.

Why not ``subprocess.run``: it keeps all output in memory (``cat`` of a large file would take the
minion down) and on timeout it kills only the direct child, so a shell's children keep the pipes
open and the call hangs. Here the child leads its own process group, the whole group is ended
at the deadline (SIGTERM, then SIGKILL after a grace), each stream keeps at most ``max_output``
bytes, and output is decoded as UTF-8 with replacement characters (a job return must be text,
whatever the command printed).

A child started for a job is attached to the job's :class:`~pvc.execution.control.JobControl`
(given, or the current one), so ``pvc job kill`` and the job's deadline reach its process group
even when the caller is an adapter that never sees the job.

Example::

    res = run_process(["uname", "-r"], label="cmd", timeout=5)
    res.retcode, res.stdout        # (0, "6.1.0-18-amd64\\n")
"""

from __future__ import annotations

import os
import selectors
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

from pvc.errors import CommandNotFound, CommandTimeout, ExecutionError
from pvc.execution.control import DEFAULT_GRACE, JobControl, current_control

DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024
READ_CHUNK = 65536
STDIN_CHUNK = 65536


@dataclass(frozen=True)
class ProcessResult:
    """A finished child: its pid, exit status (negative: killed by that signal) and output."""

    pid: int
    retcode: int
    stdout: str
    stderr: str


class _Capped:
    """Keeps the first ``limit`` bytes of a stream and counts the rest, so memory stays bounded."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = max(0, self.limit - len(self.data))
        self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - room)

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[pvc: output truncated, {self.dropped} more bytes dropped]"
        return text


class _Expired(Exception):
    """The deadline passed while the child was still running or writing."""


def run_process(
    argv: Sequence[str],
    *,
    label: str,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float | None = None,
    merge_stderr: bool = False,
    max_output: int = DEFAULT_MAX_OUTPUT,
    control: JobControl | None = None,
) -> ProcessResult:
    """Run ``argv`` (never through a shell unless argv itself names one) and wait for it.

    ``label`` prefixes error messages ("cmd: no such command: foo"). At ``timeout`` seconds, or
    at the job's deadline if that comes first, the child's whole process group gets SIGTERM, then
    SIGKILL after the grace, and :class:`CommandTimeout` is raised. ``control`` (default: the
    current job's) lets a kill or the job's deadline end the group from another thread; the call
    then raises the job's error (``JobKilled``, ``CommandTimeout``). With ``merge_stderr`` the
    child's stderr goes to its stdout (as Salt's ``cmd.run`` does).
    """
    control = control if control is not None else current_control()
    grace = DEFAULT_GRACE if control is None else control.grace
    if control is not None:
        control.check()
    timeout, deadline = _deadline(timeout, control)
    proc = _spawn(argv, label, cwd, env, stdin is not None, merge_stderr)
    token, ender = None, _GroupEnder(proc, grace)
    try:
        if control is not None:
            token = control.attach(ender)
            if token is None:  # ended between the check and the spawn
                control.check()
        out, err = _pump(proc, stdin or b"", deadline, max_output)
        retcode = proc.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
    except (_Expired, subprocess.TimeoutExpired):
        if control is not None and control.error is not None:
            raise control.error from None  # ended from outside while we waited: say why
        _terminate(proc, grace)
        raise CommandTimeout(
            f"{label}: `{shlex.join(argv)}` timed out after {timeout:g} s; "
            f"process {proc.pid} and its process group were killed (SIGTERM, then SIGKILL after {grace:g} s)"
        ) from None
    finally:
        if control is not None:
            control.detach(token)
        _reap(proc)
        ender.close()
    if control is not None:
        control.check()  # killed: the output is partial and the caller has already answered
    return ProcessResult(pid=proc.pid, retcode=retcode, stdout=out.text(), stderr=err.text())


def _deadline(timeout: float | None, control: JobControl | None) -> tuple[float | None, float | None]:
    """The effective timeout (for the message) and deadline: the call's own or the job's, the
    sooner of the two."""
    now = time.monotonic()
    own = None if timeout is None else now + timeout
    job = None if control is None else control.deadline
    if job is not None and (own is None or job < own):
        assert control is not None and control.timeout is not None
        return control.timeout, job
    return timeout, own


def _spawn(argv: Sequence[str], label: str, cwd: str | None, env: Mapping[str, str] | None,
           with_stdin: bool, merge_stderr: bool) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.PIPE if with_stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            start_new_session=True,  # own process group: a timeout kills the shell's children too
        )
    except OSError as exc:
        # Popen names the failing path: the working directory or the executable.
        what = "directory" if cwd is not None and exc.filename == cwd else "command"
        if isinstance(exc, FileNotFoundError):
            cls = CommandNotFound if what == "command" else ExecutionError
            raise cls(f"{label}: no such {what}: {exc.filename}") from None
        raise ExecutionError(f"{label}: cannot run {what} {exc.filename or argv[0]}: {exc.strerror}") from None


def _pump(proc: subprocess.Popen[bytes], stdin: bytes, deadline: float | None,
          max_output: int) -> tuple[_Capped, _Capped]:
    """Feed stdin and collect stdout/stderr until both close, or raise ``_Expired``."""
    out, err = _Capped(max_output), _Capped(max_output)
    sinks: dict[Any, _Capped] = {proc.stdout: out, proc.stderr: err}
    view, sent = memoryview(stdin), 0
    with selectors.DefaultSelector() as sel:
        if proc.stdin is not None:
            os.set_blocking(proc.stdin.fileno(), False)
            sel.register(proc.stdin, selectors.EVENT_WRITE)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                sel.register(stream, selectors.EVENT_READ)
        while sel.get_map():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise _Expired
            for key, _ in sel.select(remaining):
                ready = cast("IO[bytes]", key.fileobj)  # we registered only the child's pipes
                if ready is proc.stdin:
                    try:
                        sent += os.write(key.fd, view[sent:sent + STDIN_CHUNK])
                    except BrokenPipeError:
                        sent = len(view)  # the child stopped reading: drop the rest
                    if sent >= len(view):
                        _drop(sel, ready)  # EOF tells the child its input is complete
                    continue
                chunk = os.read(key.fd, READ_CHUNK)
                if chunk:
                    sinks[ready].add(chunk)
                else:
                    _drop(sel, ready)
    return out, err


def _drop(sel: selectors.BaseSelector, stream: IO[bytes]) -> None:
    sel.unregister(stream)
    stream.close()


def describe_exit(code: int) -> str:
    """How a child ended, from its return code: ``exit code 1``, ``killed by SIGKILL``."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member changed user: it still exists
        return True
    return True


def _terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the group, give it ``grace`` seconds to leave, then SIGKILL what is left (blocks)."""
    _kill_group(proc, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end:
        proc.poll()  # reap the leader, so an emptied group reads as gone
        if proc.returncode is not None and not _group_alive(proc.pid):
            return
        time.sleep(0.05)
    _kill_group(proc)


class _GroupEnder:
    """Ends a child's process group from another thread without blocking: SIGTERM now, SIGKILL
    after the grace on a timer. The timer is cancelled once the caller has reaped the leader and
    the group is empty: a PID is free again then, and a late SIGKILL to that number could reach
    whatever process group took it since (any program started in a session of its own)."""

    def __init__(self, proc: subprocess.Popen[bytes], grace: float) -> None:
        self._proc, self._grace = proc, grace
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._closed = False

    def __call__(self) -> None:
        with self._lock:
            if self._closed or self._timer is not None:
                return
            _kill_group(self._proc, signal.SIGTERM)
            self._timer = threading.Timer(self._grace, self._kill)
            self._timer.daemon = True
            self._timer.start()

    def _kill(self) -> None:
        with self._lock:
            if not self._closed:
                _kill_group(self._proc)

    def close(self) -> None:
        """The leader is reaped: no more signals, but the SIGKILL still due to members left."""
        with self._lock:
            if self._timer is None or not _group_alive(self._proc.pid):
                self._closed = True
                if self._timer is not None:
                    self._timer.cancel()


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Leave no child behind, whatever happened: kill it if still running, close pipes, wait."""
    if proc.poll() is None:
        _kill_group(proc)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None and not stream.closed:
            stream.close()
    proc.wait()
