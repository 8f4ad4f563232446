"""A running job's deadline and cancellation handle: how a timeout or a kill reaches a job.

Python cannot interrupt a thread, so a job is ended from outside in the only ways that work: a
child process it started is terminated (its whole process group), and the job's answer is given
for it ("killed by operator", "timed out after N s") while its thread, if it cannot be reached,
is abandoned. To make its children reachable, whatever starts a subprocess for a job
(:func:`pvc.process.run_process`) :meth:`~JobControl.attach`\\ es a terminator to the job's
control and detaches it when the child is gone.

Each job has one control: the minion's runner makes it, :class:`~pvc.execution.ExecContext`
carries it to the function (``ctx.control``), and :func:`use_control` makes it *current* in the
worker thread so that adapters, which never see a job context, still attach their children
(``run_process`` looks up :func:`current_control` when it is not given one).

Example::

    ctl = JobControl("20261130120000000001", "cmd.run", timeout=10)
    token = ctl.attach(lambda: os.killpg(pid, signal.SIGTERM))
    ctl.cancel(JobKilled("killed by operator"))     # runs the terminator: returns 1
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pvc.errors import ExecutionError

DEFAULT_GRACE = 2.0
KILLED_BY_OPERATOR = "killed by operator"


class JobKilled(ExecutionError):
    """An operator killed the job (``pvc job kill``) before it finished."""


class MinionBusy(ExecutionError):
    """The minion refused a job at once because its lane and the lane's queue are full."""


class JobControl:
    """Deadline and cancellation of one job; thread-safe.

    ``timeout`` (seconds from :attr:`started`) is the minion-wide default the runner gives; a
    function that knows its own limit replaces it with :meth:`set_timeout` (``cmd.run
    timeout=7200``). ``grace`` is how long a terminated process group has between SIGTERM and
    SIGKILL.
    """

    def __init__(self, jid: str = "", fun: str = "", timeout: float | None = None,
                 grace: float = DEFAULT_GRACE) -> None:
        self.jid = jid
        self.fun = fun
        self.grace = grace
        self.started = time.monotonic()
        self._timeout = timeout
        self._lock = threading.Lock()
        self._terminators: dict[int, Callable[[], None]] = {}
        self._next_token = 0
        self._error: ExecutionError | None = None
        self._event: threading.Event | None = None  # made by the first wait(): most jobs never wait
        self._listeners: list[Callable[[JobControl], None]] = []

    # -- deadline -----------------------------------------------------------------------------
    @property
    def timeout(self) -> float | None:
        return self._timeout

    @property
    def deadline(self) -> float | None:
        """``time.monotonic()`` value at which the job is ended, or None (no deadline)."""
        timeout = self._timeout
        return None if timeout is None else self.started + timeout

    def remaining(self) -> float | None:
        deadline = self.deadline
        return None if deadline is None else deadline - time.monotonic()

    def restart(self) -> None:
        """The job starts now (it waited in a queue): its timeout counts from here."""
        self.started = time.monotonic()
        self._notify()

    def set_timeout(self, seconds: float | None) -> None:
        """The function's own limit replaces the default (None: keep the default)."""
        if seconds is None or seconds == self._timeout:
            return
        self._timeout = seconds
        self._notify()

    def on_deadline_change(self, listener: Callable[[JobControl], None]) -> None:
        """``listener(control)`` runs (in the caller's thread) whenever the deadline moves."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener(self)

    # -- cancellation -------------------------------------------------------------------------
    @property
    def error(self) -> ExecutionError | None:
        """Why the job was ended (JobKilled, CommandTimeout), or None while it may run on."""
        return self._error

    def check(self) -> None:
        """Raise the cancellation error if the job was ended (for cooperative Python code)."""
        if self._error is not None:
            raise self._error

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True (at once) if the job is ended meanwhile."""
        with self._lock:
            if self._event is None:
                self._event = threading.Event()
                if self._error is not None:
                    self._event.set()
            event = self._event
        return event.wait(seconds)

    def attach(self, terminate: Callable[[], None]) -> int | None:
        """Register ``terminate`` (ends a child process group without blocking) and return a token
        for :meth:`detach`; None if the job is already ended (the caller must stop its child)."""
        with self._lock:
            if self._error is not None:
                return None
            self._next_token += 1
            self._terminators[self._next_token] = terminate
            return self._next_token

    def detach(self, token: int | None) -> None:
        if token is not None:
            with self._lock:
                self._terminators.pop(token, None)

    def cancel(self, error: ExecutionError) -> int:
        """End the job for ``error``: run every attached terminator once and return how many ran
        (0: nothing to terminate, the job is Python code). Later calls do nothing and return 0."""
        with self._lock:
            if self._error is not None:
                return 0
            self._error = error
            terminators, self._terminators = list(self._terminators.values()), {}
            event = self._event
        if event is not None:
            event.set()
        for terminate in terminators:
            terminate()
        return len(terminators)


_CURRENT: contextvars.ContextVar[JobControl | None] = contextvars.ContextVar("pvc_job_control", default=None)


def current_control() -> JobControl | None:
    """The control of the job this thread runs, if any (see :func:`use_control`)."""
    return _CURRENT.get()


@contextmanager
def use_control(control: JobControl) -> Iterator[JobControl]:
    """Make ``control`` current in this thread for the ``with`` block."""
    token = _CURRENT.set(control)
    try:
        yield control
    finally:
        _CURRENT.reset(token)
