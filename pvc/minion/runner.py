"""Runs jobs in lanes of worker threads, with deadlines and kill, and hands results to the loop.

ZMQ sockets are not thread-safe, so workers never touch them: a worker posts a callable with
:meth:`JobRunner.call_soon` and an eventfd wakes the loop's poller, which runs it (sending the
return, or an event a module fired).

No kind of job can starve another: each lane (:mod:`pvc.execution.lanes`) has its own workers.
The cluster lane serves only the modules the cluster layer calls (virt, ceph, network, ...), so
fifty hung ``cmd.run`` jobs cannot delay a migration. A lane keeps ``workers`` threads, grows to
``max_workers`` when busy, then queues up to ``queue_size`` jobs; past that a job is refused at
once with ``MinionBusy``, never dropped in silence.

Every job has a deadline (``job_timeout``, or what the function sets, e.g. ``cmd.run
timeout=``) and can be killed (:meth:`JobRunner.kill`). Either way the runner answers for the job
at once: the child process groups it attached to its
:class:`~pvc.execution.control.JobControl` get SIGTERM, then SIGKILL after ``kill_grace``; a job
that is only Python code cannot be interrupted, so its thread is *abandoned* (it no longer counts
against the lane, which starts a replacement; its late result is dropped).

Example::

    runner = JobRunner(8, max_workers=64, job_timeout=3600)
    runner.submit(lambda: funcs.call("cmd.run", ["sleep 30"]), on_done, jid=jid, fun="cmd.run")
    runner.kill(jid)             # "killed": on_done gets "killed by operator" on the loop thread
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pvc.errors import CommandTimeout, ExecutionError
from pvc.execution.control import KILLED_BY_OPERATOR, JobControl, JobKilled, MinionBusy, use_control
from pvc.execution.lanes import CLUSTER, GENERAL, lane_of
from pvc.results import Return

log = logging.getLogger(__name__)
IDLE_EXIT = 60.0  # a worker above the lane's minimum exits after this long without work
KILLED, ABANDONED, UNKNOWN = "killed", "abandoned", "unknown"


@dataclass(frozen=True)
class ActiveJob:
    """A job the runner holds: ``started`` is wall-clock (``time.time()``) when it started or
    was queued; ``age`` is seconds since then (monotonic); ``state`` "running" or "queued"."""

    jid: str
    fun: str
    started: float
    lane: str
    state: str = "running"
    age: float = 0.0


class _Job:
    __slots__ = ("call", "control", "detached", "done", "finished", "fun", "jid", "lane", "since", "state", "wall")

    def __init__(self, jid: str, fun: str, lane: str, call: Callable[[], Return],
                 done: Callable[[Return], None], control: JobControl) -> None:
        self.jid, self.fun, self.lane, self.call, self.done, self.control = jid, fun, lane, call, done, control
        self.state = "queued"
        self.wall = time.time()
        self.since = time.monotonic()
        self.finished = False  # its answer is given (by its worker, the deadline or a kill)
        self.detached = False  # ended from outside while its thread still runs


class _Lane:
    """Workers and queue of one lane; guarded by the runner's lock."""

    def __init__(self, name: str, workers: int, max_workers: int, queue_size: int, lock: threading.Lock) -> None:
        self.name = name
        self.workers = max(1, workers)
        self.max_workers = max(self.workers, max_workers)
        self.queue_size = max(0, queue_size)
        self.queue: deque[_Job] = deque()
        self.cond = threading.Condition(lock)
        self.threads = 0  # live workers serving the lane (abandoned ones no longer count)
        self.idle = 0     # of those, waiting for a job
        self.running = 0  # jobs those workers run

    def needs_worker(self) -> bool:
        return len(self.queue) > self.idle and self.threads < self.max_workers

    def full(self) -> bool:
        return self.running + len(self.queue) >= self.max_workers + self.queue_size


class JobRunner:
    """Lanes of workers with deadlines and kill; results are handed to the loop thread.

    ``workers``/``max_workers``/``queue_size`` size the general lane, ``cluster_workers``/
    ``cluster_max_workers`` the cluster lane (same queue size). ``job_timeout`` (seconds; None or
    0: none) is the default deadline of every job, counted from its start.
    """

    def __init__(self, workers: int = 8, *, max_workers: int = 64, queue_size: int = 1024,
                 cluster_workers: int = 4, cluster_max_workers: int = 16,
                 job_timeout: float | None = 3600.0, kill_grace: float = 2.0,
                 lane_for: Callable[[str], str] = lane_of) -> None:
        self._lock = threading.Lock()
        self.lanes = {
            GENERAL: _Lane(GENERAL, workers, max_workers, queue_size, self._lock),
            CLUSTER: _Lane(CLUSTER, cluster_workers, cluster_max_workers, queue_size, self._lock),
        }
        self.job_timeout = job_timeout or None
        self.kill_grace = kill_grace
        self._lane_for = lane_for
        self._jobs: set[_Job] = set()
        self._abandoned = 0  # detached threads that have not returned yet
        self._closed = False
        self._deadlines: list[tuple[float, int, _Job]] = []
        self._seq = itertools.count()
        self._watch_cond = threading.Condition(self._lock)
        # started with the first deadline: an idle minion (inline jobs only) has no such thread
        self._watchdog = threading.Thread(target=self._watch, name="pvc-job-deadlines", daemon=True)
        self._watching = False
        self._inbox: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._fd_lock = threading.Lock()
        self.fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)

    # -- the loop thread's side -----------------------------------------------------------------
    def submit(self, call: Callable[[], Return], done: Callable[[Return], None], *,
               jid: str = "", fun: str = "") -> None:
        """Run ``call`` in the lane of ``fun``; ``done(result)`` then runs on the loop thread.

        ``jid`` makes the job killable and listed by :meth:`active`. A full lane refuses the
        job: ``done`` gets ``MinionBusy`` at once."""
        lane = self.lanes.get(self._lane_for(fun)) or self.lanes[GENERAL]
        control = JobControl(jid, fun, self.job_timeout, self.kill_grace)
        job = _Job(jid, fun, lane.name, call, done, control)
        control.on_deadline_change(lambda _ctl: self._schedule(job))
        with self._lock:
            refused = self._refusal(lane, fun)
            if refused is None:
                lane.queue.append(job)
                self._jobs.add(job)
                if lane.needs_worker():
                    self._spawn(lane)
                else:
                    lane.cond.notify()
        if refused is not None:
            log.warning("job %s (%s) refused: %s", jid, fun, refused.error)
            self.call_soon(lambda: done(refused))

    def _refusal(self, lane: _Lane, fun: str) -> Return | None:
        if self._closed:
            return Return(ok=False, error=f"minion busy: it is stopping; {fun or 'the job'} refused",
                          error_type=MinionBusy.__name__)
        if not lane.full():
            return None
        return Return(ok=False, error_type=MinionBusy.__name__, error=(
            f"minion busy: the {lane.name} lane is full ({lane.running} jobs running, {len(lane.queue)} "
            f"queued); {fun or 'the job'} refused, try again later or kill a job"))

    def kill(self, jid: str) -> str:
        """End job ``jid`` (every job with that jid, in swarm mode). Returns "killed" (its child
        process groups got SIGTERM, then SIGKILL after the grace; or it had not started yet),
        "abandoned" (Python code that cannot be interrupted: its thread was left to finish and
        its result will be dropped) or "unknown" (not running here). The job's answer is
        ``JobKilled`` "killed by operator", delivered through ``done`` as usual."""
        with self._lock:
            jobs = [job for job in self._jobs if jid and job.jid == jid]
        outcomes = {self._end(job, JobKilled(KILLED_BY_OPERATOR)) for job in jobs}
        return next((o for o in (KILLED, ABANDONED) if o in outcomes), UNKNOWN)

    def active(self) -> list[ActiveJob]:
        """The jobs this runner holds (running or queued), oldest first."""
        now = time.monotonic()
        with self._lock:
            jobs = sorted(self._jobs, key=lambda j: j.wall)
            return [ActiveJob(j.jid, j.fun, j.wall, j.lane, j.state, now - j.since) for j in jobs]

    def stats(self) -> dict[str, Any]:
        """Per lane: threads, idle, queued, bounds; plus abandoned threads still alive."""
        with self._lock:
            lanes = {lane.name: {"threads": lane.threads, "running": lane.running, "queued": len(lane.queue),
                                 "workers": lane.workers, "max_workers": lane.max_workers,
                                 "queue_size": lane.queue_size} for lane in self.lanes.values()}
            return {"lanes": lanes, "abandoned": self._abandoned}

    @property
    def abandoned(self) -> int:
        """Threads of jobs ended by a deadline or a kill that have not returned yet (a killed
        subprocess job's thread returns within moments; a Python-level job's may never)."""
        return self._abandoned

    # -- workers ---------------------------------------------------------------------------------
    def _spawn(self, lane: _Lane) -> None:
        lane.threads += 1
        threading.Thread(target=self._work, args=(lane,), name=f"pvc-job-{lane.name}", daemon=True).start()

    def _work(self, lane: _Lane) -> None:
        while True:
            with self._lock:
                job = self._next(lane)
            if job is None:
                return
            self._execute(job)
            with self._lock:
                if job.detached:  # the lane replaced this thread when the job was ended
                    return
                lane.running -= 1

    def _next(self, lane: _Lane) -> _Job | None:
        """Under the lock: the next job of ``lane``, or None when this worker should exit."""
        lane.idle += 1
        try:
            while not lane.queue:
                if self._closed:
                    lane.threads -= 1
                    return None
                if not lane.cond.wait(IDLE_EXIT) and not lane.queue and lane.threads > lane.workers:
                    lane.threads -= 1
                    return None
        finally:
            lane.idle -= 1
        job = lane.queue.popleft()
        job.state = "running"
        lane.running += 1
        job.wall, job.since = time.time(), time.monotonic()
        return job

    def _execute(self, job: _Job) -> None:
        job.control.restart()  # its deadline counts from now (and is scheduled)
        try:
            job.control.check()  # killed between leaving the queue and now
            with use_control(job.control):
                ret = job.call()
        except BaseException as exc:  # noqa: BLE001 - the executor already catches; last line of defence
            ret = Return(ok=False, error=f"internal error: {exc}", error_type=type(exc).__name__)
        with self._lock:
            late = job.finished
            job.finished = True
            self._jobs.discard(job)
            if late:
                self._abandoned -= 1
        if late:
            log.info("job %s (%s): its thread returned %.0f s after it was ended; result dropped",
                     job.jid, job.fun, time.monotonic() - job.control.started)
            return
        self.call_soon(lambda: job.done(ret))

    # -- deadlines and kill --------------------------------------------------------------------
    def _schedule(self, job: _Job) -> None:
        deadline = job.control.deadline
        if deadline is None:
            return
        with self._lock:
            if job.finished:
                return
            if len(self._deadlines) > 2 * len(self._jobs) + 256:  # drop the entries of finished jobs
                self._deadlines = [entry for entry in self._deadlines if not entry[2].finished]
                heapq.heapify(self._deadlines)
            heapq.heappush(self._deadlines, (deadline, next(self._seq), job))
            if not self._watching:
                self._watching = True
                self._watchdog.start()
            self._watch_cond.notify()

    def _watch(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                now = time.monotonic()
                expired = []
                while self._deadlines and self._deadlines[0][0] <= now:
                    job = heapq.heappop(self._deadlines)[2]
                    deadline = job.control.deadline  # a function may have moved it since
                    if not job.finished and deadline is not None and deadline <= now:
                        expired.append(job)
                if not expired:
                    self._watch_cond.wait(self._deadlines[0][0] - now if self._deadlines else None)
                    continue
            for job in expired:
                self._end(job, CommandTimeout(f"{job.fun or 'job'} timed out after {job.control.timeout:g} s"))

    def _end(self, job: _Job, error: ExecutionError) -> str:
        """Answer for ``job`` with ``error`` now and stop what can be stopped (any thread)."""
        with self._lock:
            if job.finished:
                return UNKNOWN
            job.finished = True
            self._jobs.discard(job)
            lane = self.lanes[job.lane]
            queued = job.state == "queued"
            if queued:
                lane.queue.remove(job)
            else:
                job.detached = True
                lane.threads -= 1
                lane.running -= 1
                self._abandoned += 1
                if lane.needs_worker():
                    self._spawn(lane)
        terminated = job.control.cancel(error)
        if queued:
            outcome, detail = KILLED, "before it started"
        elif terminated:
            outcome, detail = KILLED, f"its processes got SIGTERM, then SIGKILL after {job.control.grace:g} s"
        else:
            outcome, detail = ABANDONED, "it runs Python code that cannot be interrupted; its thread is abandoned"
        log.warning("job %s (%s) ended: %s; %s (%d abandoned threads)", job.jid, job.fun, error, detail,
                    self._abandoned)
        ret = Return(ok=False, error=f"{error}; {detail}", error_type=type(error).__name__,
                     duration=0.0 if queued else time.monotonic() - job.control.started)
        self.call_soon(lambda: job.done(ret))
        return outcome

    # -- the loop thread's inbox -----------------------------------------------------------------
    def call_soon(self, fn: Callable[[], None]) -> None:
        """Thread-safe: queue ``fn`` for the loop thread and wake it."""
        self._inbox.put(fn)
        with self._fd_lock:
            if self.fd >= 0:
                os.eventfd_write(self.fd, 1)

    def run_pending(self) -> None:
        try:
            os.eventfd_read(self.fd)
        except OSError:  # nothing to read (BlockingIOError), or closed
            pass
        while True:
            try:
                fn = self._inbox.get_nowait()
            except queue.Empty:
                return
            fn()

    def close(self) -> None:
        """Stop: drop queued jobs, terminate running jobs' child processes, release the eventfd."""
        with self._lock:
            self._closed = True
            running = [job for job in self._jobs if job.state == "running"]
            for lane in self.lanes.values():
                lane.queue.clear()
                lane.cond.notify_all()
            self._watch_cond.notify_all()
        for job in running:
            job.control.cancel(JobKilled("minion stopping"))
        with self._fd_lock:
            fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)
