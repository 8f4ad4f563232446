"""Run a command under a child *subreaper* that reaps orphans at once.

Why: libvirtd double-forks QEMU, so QEMU's parent becomes PID 1; on CI boxes whose PID 1 reaps
zombies only every ~1.4 s, libvirt waits that long on every destroy and migration. Started as
the parent of libvirtd, this process adopts QEMU instead and reaps it immediately. SIGTERM and
SIGINT are forwarded to the command; it exits when no child is left.

Example: ``python3 subreaper.py unshare --mount sh -c '... exec libvirtd'``
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36


def main(argv: list[str]) -> int:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    child = os.fork()
    if child == 0:
        os.execvp(argv[0], argv)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: os.kill(child, signum))
    code = 0
    while True:
        try:
            pid, status = os.wait()
        except InterruptedError:
            continue
        except ChildProcessError:
            return code
        if pid == child:
            code = os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
