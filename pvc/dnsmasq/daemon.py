"""Start, signal and stop one dnsmasq instance by the PID in its pid file.

dnsmasq daemonizes itself (so it outlives a minion restart) and writes its pid file; before the
parent exits it reports start-up errors ("unknown interface br9") on stderr with a non-zero
status, which :func:`start` passes on. A PID is trusted only while ``/proc/<pid>/cmdline`` still
names this instance's config file, and signals go through a pidfd, so a recycled PID is never
signalled. Stopping waits on the pidfd (no sleep loop).

Example::

    pid = start(Paths.of("/run/pvc/dnsmasq", "vnet1"), "dnsmasq", netns_path("node1"), timeout=10)
    send(paths, signal.SIGHUP)      # re-read the hosts file
    stop(paths, timeout=5)
"""

from __future__ import annotations

import os
import select
import signal

from pvc.dnsmasq.config import Paths
from pvc.errors import (
    BackendUnavailable,
    CommandNotFound,
    CommandTimeout,
    ExecutionError,
    InvalidArgument,
)
from pvc.net.args import netns_name
from pvc.process import run_process


def _pidfd(paths: Paths) -> tuple[int, int] | None:
    """(pid, pidfd) of the running instance, or None when it is not running."""
    try:
        with open(paths.pid) as fh:
            pid = int(fh.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:  # read after pidfd_open: same process
            argv = fh.read().split(b"\0")
    except OSError:
        argv = []
    if f"--conf-file={paths.conf}".encode() not in argv:  # exited (zombie) or PID reused
        os.close(fd)
        return None
    return pid, fd


def running_pid(paths: Paths) -> int | None:
    """The PID of the instance whose files are ``paths``, if it runs."""
    found = _pidfd(paths)
    if found is None:
        return None
    os.close(found[1])
    return found[0]


def netns_path(netns: str) -> str:
    """The bind mount of network namespace ``netns``, which must exist (checked before any change)."""
    path = f"/run/netns/{netns_name(netns)}"
    if not os.path.exists(path):
        raise InvalidArgument(f"dnsmasq: no network namespace named {netns!r}")
    return path


def start(paths: Paths, binary: str, netns_file: str | None, timeout: float) -> int:
    """Start the instance (inside the namespace bound at ``netns_file`` when given) and return its PID."""
    argv = [binary, f"--conf-file={paths.conf}"]
    if netns_file is not None:
        argv = ["nsenter", f"--net={netns_file}", *argv]
    try:
        res = run_process(argv, label="dnsmasq", timeout=timeout)
    except CommandNotFound as exc:
        raise BackendUnavailable(f"{exc} (is dnsmasq installed? apt install dnsmasq-base)") from None
    if res.retcode != 0:
        reason = (res.stderr or res.stdout).strip() or f"exit status {res.retcode}"
        raise ExecutionError(f"dnsmasq: cannot start the instance in {paths.dir}: {reason}")
    pid = running_pid(paths)
    if pid is None:
        raise ExecutionError(f"dnsmasq: started, but no running instance behind {paths.pid}")
    return pid


def send(paths: Paths, sig: signal.Signals) -> int | None:
    """Send ``sig`` to the instance; its PID, or None when it is not running."""
    found = _pidfd(paths)
    if found is None:
        return None
    pid, fd = found
    try:
        signal.pidfd_send_signal(fd, sig)
    finally:
        os.close(fd)
    return pid


def stop(paths: Paths, timeout: float) -> int | None:
    """SIGTERM the instance and wait until it has exited; its PID, or None when it was not running."""
    found = _pidfd(paths)
    if found is None:
        return None
    pid, fd = found
    try:
        signal.pidfd_send_signal(fd, signal.SIGTERM)
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(timeout * 1000):
            raise CommandTimeout(f"dnsmasq: process {pid} did not exit within {timeout:g} s of SIGTERM")
    finally:
        os.close(fd)
    try:
        os.unlink(paths.pid)
    except FileNotFoundError:
        pass
    return pid
