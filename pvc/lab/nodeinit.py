"""PID 1 of a simulated node: mounts the node's own directories, runs its daemons, reaps.

Started by :mod:`pvc.lab.node` as
``ip netns exec NS unshare --pid --fork --kill-child --mount-proc --mount --propagation private
--uts -- python -m pvc.lab.nodeinit NODE_DIR/init.json``, so it is the init of a new PID, mount
and UTS namespace inside the node's network namespace. Why an init of our own:

* SIGKILL of this one process from the host makes the kernel kill every process of the node
  (libvirtd, the minion, QEMU) within milliseconds: that is the BMC's power cut.
* libvirtd double-forks QEMU, so QEMU's parent is this PID 1, and libvirt waits for QEMU to be
  reaped on every destroy and migration: we reap at once (woken by SIGCHLD, no polling).
* A PID-namespace init gets no default signal actions; SIGTERM here is an orderly stop (TERM to
  all, KILL after 3 s).
* Like systemd's ``Restart=``, a daemon that exits is started again after a second.

Standard library only, and no imports from pvc: it runs on every power-on.

init.json: ``{"hostname": "hv1", "log": ".../init.log", "mounts": [[src, dst], ...],
"children": [{"tag": "libvirtd", "argv": [...], "env": {...}, "log": "..."}, ...]}``
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import IO, Any

SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
RESPAWN_DELAY = 1.0
STOP_GRACE = 3.0


class Init:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.log: IO[str] = open(spec["log"], "a", buffering=1)  # noqa: SIM115 - open as long as the node runs
        self.running: dict[int, dict[str, Any]] = {}   # pid -> child spec
        self.respawn: list[tuple[float, dict[str, Any]]] = []
        self.stop_deadline: float | None = None

    def say(self, *words: object) -> None:
        print(f"{time.time():.3f} [init {self.spec['hostname']}]", *words, file=self.log)

    def setup(self) -> None:
        for src, dst in self.spec["mounts"]:
            subprocess.run(["mount", "--bind", src, dst], check=True)
        socket.sethostname(self.spec["hostname"])

    def start(self, child: dict[str, Any]) -> None:
        with open(child["log"], "ab") as out:
            proc = subprocess.Popen(child["argv"], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, **child.get("env", {})},
                                    preexec_fn=_unblock)  # noqa: PLW1509 - this init has one thread
        self.running[proc.pid] = child
        self.say("started", child["tag"], "pid", proc.pid)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.running.pop(pid, None)
            if child is not None:
                self.say("exited", child["tag"], "pid", pid, "code", os.waitstatus_to_exitcode(status))
                if self.stop_deadline is None:
                    self.respawn.append((time.monotonic() + RESPAWN_DELAY, child))

    def stop(self, sig: signal.Signals) -> None:
        self.say("stopping:", sig.name)
        for entry in os.listdir("/proc"):  # this namespace's /proc: every process of the node
            if entry.isdigit() and int(entry) != 1:
                try:
                    os.kill(int(entry), sig)
                except ProcessLookupError:
                    pass

    def run(self) -> int:
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        for sig in SIGNALS:  # a PID-namespace init drops signals it has no handler for, even blocked ones
            signal.signal(sig, _ignore)
        self.setup()
        for child in self.spec["children"]:
            self.start(child)
        while True:
            self.reap()
            now = time.monotonic()
            if self.stop_deadline is not None:
                if not _children_left():
                    self.say("stopped")
                    return 0
                if now >= self.stop_deadline:
                    self.stop(signal.SIGKILL)
                    self.stop_deadline = now + 60
            for due, child in [r for r in self.respawn if r[0] <= now]:
                self.respawn.remove((due, child))
                self.start(child)
            wakeups = [d for d, _ in self.respawn] + ([self.stop_deadline] if self.stop_deadline else [])
            timeout = max(0.0, min(wakeups) - now) if wakeups else 3600.0
            info = signal.sigtimedwait(SIGNALS, timeout)
            if info is not None and info.si_signo != signal.SIGCHLD and self.stop_deadline is None:
                self.respawn.clear()
                self.stop_deadline = time.monotonic() + STOP_GRACE
                self.stop(signal.SIGTERM)


def _ignore(_signum: int, _frame: object) -> None:
    """Never runs (the signals are blocked and taken by ``sigtimedwait``)."""


def _unblock() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


def _children_left() -> bool:
    return any(e.isdigit() and e != "1" for e in os.listdir("/proc"))


def main(argv: list[str]) -> int:
    with open(argv[0]) as fh:
        spec = json.load(fh)
    return Init(spec).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
