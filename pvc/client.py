"""The Python API to a local master; the CLI is built on it.

Example::

    from pvc.client import Client
    c = Client("/etc/pvc")
    c.cmd("*", "test.ping")                      # {"web1": True, "web2": True}
    result = c.run("G@os:Debian", "cmd.run", ["uptime"], tgt_type="compound")
    for mid, ret in c.iter_run("web*", "test.sleep", [1]):
        print(mid, ret.ok)
    jid = c.run_async("*", "test.ping")
    c.collect([jid], timeout=5)                  # {jid: JobResult}
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Self, TypeVar

import zmq

from pvc.config import DEFAULT_CONFIG_DIR, MasterConfig, load_master
from pvc.errors import MasterUnreachable, PvcError
from pvc.results import JobResult, Return
from pvc.wire.local import (
    CLIENT_SOCKET,
    PID_FILE,
    REPLIES,
    ActiveReply,
    ActiveRow,
    Done,
    ErrorReply,
    EventFire,
    ExpectedReq,
    JobActive,
    JobGet,
    JobKill,
    JobList,
    JobsReply,
    JobSummary,
    JobView,
    KeysChanged,
    KillSent,
    Minions,
    MinionStatus,
    Ok,
    Published,
    PublishReq,
    RetReply,
    StatusReply,
    StatusReq,
)
from pvc.wire.messages import Outer
from pvc.wire.record import Record

Reply = Published | RetReply | Done | JobView | JobsReply | Ok | Minions | ActiveReply | KillSent | StatusReply
R = TypeVar("R", bound=Record)


def error_type(name: str) -> type[PvcError]:
    """The error class a master reported as ``name`` (:class:`PvcError` for any other), so a
    Python caller catches ``CephNotFound`` as ``CephNotFound``. The table is explicit: every
    error class a job or request can raise, from each package; the modules are light (no
    backend binding) and imported only when an error arrives."""
    from pvc import errors, results
    from pvc.ceph import errors as ceph
    from pvc.execution import control
    from pvc.frr import vtysh
    from pvc.net import handle
    from pvc.virt import errors as virt

    classes: tuple[type[PvcError], ...] = (
        errors.PvcError, errors.ConfigError, errors.InvalidArgument, errors.InvalidMinionId, errors.InvalidTarget,
        errors.ExecutionError, errors.UnknownFunction, errors.BackendUnavailable, errors.CommandTimeout,
        errors.CommandNotFound, errors.ProtocolError, errors.AuthError, errors.ReplayError, errors.KeyStateError,
        errors.MasterUnreachable, errors.JobNotFound, errors.JobCacheError,
        virt.DomainNotFound, virt.DomainStateError, virt.InvalidDomainSpec, virt.MigrationFailed,
        virt.MigrationTimeout,
        ceph.CephError, ceph.CephNotFound, ceph.CephExists, ceph.ImageBusy, ceph.ImageHasSnapshots,
        ceph.CephPermissionDenied, ceph.CephUnreachable,
        handle.NetworkError, handle.KernelFeatureMissing, handle.NoSuchLink,
        vtysh.FrrConfigInvalid, control.JobKilled, control.MinionBusy, results.JobFailed,
    )
    return {cls.__name__: cls for cls in classes}.get(name, PvcError)


def master_pid(sock_dir: str) -> int | None:
    """The master's PID from its PID file, if that process is alive."""
    try:
        with open(os.path.join(sock_dir, PID_FILE)) as fh:
            pid = int(fh.read().strip())
        os.kill(pid, 0)
    except PermissionError:  # alive, and someone else's (root's) process
        return pid
    except (OSError, ValueError):
        return None
    return pid


class ReturnStream:
    """Iterates ``(minion_id, Return)``; ``result`` is complete once iteration has ended."""

    def __init__(self, returns: Iterator[tuple[str, Return]], result: JobResult) -> None:
        self._returns = returns
        self.result = result

    def __iter__(self) -> Iterator[tuple[str, Return]]:
        return self._returns


class Client:
    def __init__(self, config_dir: str = DEFAULT_CONFIG_DIR, config: MasterConfig | None = None,
                 connect_timeout: float = 3.0) -> None:
        self.cfg = config or load_master(config_dir)
        self.connect_timeout = connect_timeout
        path = os.path.join(self.cfg.sock_dir, CLIENT_SOCKET)
        if not os.path.exists(path):
            raise MasterUnreachable(f"master is not running (no socket at {path})")
        self.zctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        self.sock = self.zctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 0)
        self.sock.connect(f"ipc://{path}")
        self._early: list[Reply] = []

    def _silence(self) -> str:
        """Why the master did not answer: not running (its PID file names no live process),
        or running but busy or hung."""
        pid = master_pid(self.cfg.sock_dir)
        if pid is None:
            return (f"master is not running (no live process in {self.cfg.sock_dir}/{PID_FILE}; "
                    f"a stale socket was left behind)")
        return (f"master (pid {pid}) is running but did not answer within {self.connect_timeout:g}s "
                f"(socket {self.cfg.sock_dir}/{CLIENT_SOCKET}): busy or hung")

    def close(self) -> None:
        self.sock.close(0)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport --------------------------------------------------------------------------
    def _send(self, req: Outer) -> None:
        self.sock.send(req.encode())

    def _recv(self, timeout: float) -> Reply | None:
        """The next reply, decoded totally (a hostile minion's return cannot crash a client)."""
        if self.sock.poll(max(0, int(timeout * 1000))):
            msg = REPLIES.decode_message(self.sock.recv(), self.cfg.max_message_size)
            if isinstance(msg, ErrorReply):
                raise error_type(msg.type)(msg.message)
            return msg  # type: ignore[return-value]
        return None

    def _request(self, req: Outer, expect: type[R]) -> R:
        self._send(req)
        deadline = time.monotonic() + self.connect_timeout
        while True:
            msg = self._recv(deadline - time.monotonic())
            if msg is None:
                raise MasterUnreachable(self._silence())
            if isinstance(msg, expect):
                return msg
            self._early.append(msg)  # returns of a pipelined job arriving before this reply

    # -- jobs -------------------------------------------------------------------------------
    def publish(self, tgt: str | Sequence[str], fun: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
                tgt_type: str = "glob", timeout: float | None = None, stream: bool = True) -> Published:
        return self._request(self._request_for(tgt, fun, args, kwargs, tgt_type, timeout, stream), Published)

    def _request_for(self, tgt: str | Sequence[str], fun: str, args: Sequence[Any], kwargs: Mapping[str, Any] | None,
                     tgt_type: str, timeout: float | None, stream: bool) -> PublishReq:
        if not isinstance(tgt, str):
            tgt, tgt_type = ",".join(tgt), "list"
        return PublishReq(tgt, tgt_type, fun, list(args), dict(kwargs or {}),
                          float(timeout if timeout is not None else self.cfg.timeout), stream)

    def publish_many(self, requests: Sequence[PublishReq]) -> list[Published]:
        """Send every request, then read every reply: one round trip's latency for the lot
        (how a caller keeps thousands of jobs in flight)."""
        for req in requests:
            self._send(req)
        replies: list[Published] = []
        deadline = time.monotonic() + self.connect_timeout + 0.001 * len(requests)
        while len(replies) < len(requests):
            msg = self._recv(deadline - time.monotonic())
            if msg is None:
                raise MasterUnreachable(self._silence())
            if isinstance(msg, Published):
                replies.append(msg)
            else:
                self._early.append(msg)
        return replies

    def iter_run(self, tgt: str | Sequence[str], fun: str, args: Sequence[Any] = (),
                 kwargs: Mapping[str, Any] | None = None, tgt_type: str = "glob",
                 timeout: float | None = None) -> ReturnStream:
        """Publish, then iterate ``(minion_id, Return)`` as returns arrive; the stream's
        ``result`` holds the whole job (with non-returners) once iteration ends."""
        pub = self.publish(tgt, fun, args, kwargs, tgt_type, timeout, stream=True)
        result = JobResult(pub.jid, list(pub.minions))
        wait = (timeout if timeout is not None else self.cfg.timeout) + 2.0
        return ReturnStream(self._stream({result.jid: result}, wait), result)

    def next_message(self, timeout: float) -> Reply | None:
        """The next :class:`RetReply`/:class:`Done` for any streamed job, or None after ``timeout``."""
        return self._early.pop(0) if self._early else self._recv(timeout)

    def _stream(self, jobs: dict[str, JobResult], timeout: float) -> Iterator[tuple[str, Return]]:
        open_jobs = set(jobs)
        deadline = time.monotonic() + timeout
        while open_jobs:
            msg = self.next_message(deadline - time.monotonic())
            if msg is None:
                for jid in open_jobs:  # master silent past the deadline: report what is missing
                    jobs[jid].mark_timed_out()
                return
            if isinstance(msg, RetReply) and msg.jid in jobs:
                ret = msg.ret.value()
                jobs[msg.jid].returns[msg.id] = ret
                yield msg.id, ret
            elif isinstance(msg, Done) and msg.jid in jobs:
                jobs[msg.jid].missing.update(msg.missing)
                open_jobs.discard(msg.jid)

    def run(self, tgt: str | Sequence[str], fun: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
            tgt_type: str = "glob", timeout: float | None = None) -> JobResult:
        stream = self.iter_run(tgt, fun, args, kwargs, tgt_type, timeout)
        for _ in stream:
            pass
        return stream.result

    def cmd(self, tgt: str | Sequence[str], fun: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
            tgt_type: str = "glob", timeout: float | None = None) -> dict[str, Any]:
        """Salt's ``LocalClient.cmd`` shape: ``{minion_id: data}``."""
        return self.run(tgt, fun, args, kwargs, tgt_type, timeout).salt_shape()

    def run_async(self, tgt: str | Sequence[str], fun: str, args: Sequence[Any] = (),
                  kwargs: Mapping[str, Any] | None = None, tgt_type: str = "glob",
                  timeout: float | None = None, stream: bool = True) -> str:
        """Publish and return the jid at once. With ``stream`` (default) the returns are sent to
        this client and :meth:`collect` gathers them; without it, read them from the job cache."""
        return self.publish(tgt, fun, args, kwargs, tgt_type, timeout, stream).jid

    def run_async_many(self, tgt: str | Sequence[str], fun: str, count: int, args: Sequence[Any] = (),
                       kwargs: Mapping[str, Any] | None = None, tgt_type: str = "glob",
                       timeout: float | None = None) -> list[str]:
        """Publish the same job ``count`` times without waiting between them; returns the jids
        (collect their returns with :meth:`collect`)."""
        req = self._request_for(tgt, fun, args, kwargs, tgt_type, timeout, True)
        return [r.jid for r in self.publish_many([req] * count)]

    def collect(self, jids: Sequence[str], timeout: float | None = None) -> dict[str, JobResult]:
        jobs = {jid: JobResult(jid, []) for jid in jids}
        for _ in self._stream(jobs, timeout if timeout is not None else self.cfg.timeout + 2.0):
            pass
        return jobs

    def expected(self, tgt: str, tgt_type: str = "glob") -> tuple[list[str], list[str]]:
        """Which accepted minions the target matches, and which of them are connected."""
        msg = self._request(ExpectedReq(tgt, tgt_type), Minions)
        return list(msg.minions), list(msg.connected)

    def job(self, jid: str) -> JobView:
        """One job from the cache: returns (``view.returns[mid].ret.value()`` is a Return),
        who did not return and why (``missing``), who is still running (``running``)."""
        return self._request(JobGet(jid), JobView)

    def jobs(self, limit: int = 50, fun: str | None = None) -> list[JobSummary]:
        return list(self._request(JobList(limit, fun or ""), JobsReply).jobs)

    def status(self, tgt: str = "*", tgt_type: str = "glob") -> list[MinionStatus]:
        """Every accepted minion the target matches: connected, last seen, clock skew, jobs, VMs."""
        return list(self._request(StatusReq(tgt, tgt_type), StatusReply).minions)

    def active(self, tgt: str = "*", tgt_type: str = "glob") -> list[ActiveRow]:
        """What runs where: one row per (minion, job), from the minions' last heartbeats."""
        return list(self._request(JobActive(tgt, tgt_type), ActiveReply).rows)

    def kill(self, jid: str) -> list[str]:
        """Ask the minions running ``jid`` to end it; returns their ids. Their returns (in the
        job cache, ``pvc job show``) say "killed by operator", or that the job was abandoned."""
        return list(self._request(JobKill(jid), KillSent).minions)

    def keys_changed(self) -> list[str]:
        return list(self._request(KeysChanged(), Ok).revoked)

    def fire_event(self, tag: str, data: Mapping[str, Any]) -> None:
        self._request(EventFire(tag, dict(data)), Ok)


def listen(cfg: MasterConfig, prefix: str = "") -> zmq.Socket:
    """A SUB socket on the master's event bus, subscribed to tags starting with ``prefix``."""
    path = os.path.join(cfg.sock_dir, "events.ipc")
    if not os.path.exists(path):
        raise MasterUnreachable(f"master is not running (no event socket at {path})")
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())
    sock.connect(f"ipc://{path}")
    return sock
