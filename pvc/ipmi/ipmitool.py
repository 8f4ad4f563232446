"""Power control of one BMC through ``ipmitool``: status, off, on, cycle; bounded and retried.

Why ipmitool in a child process (not pyghmi in ours): every call is a fresh IPMI session that a
timeout can kill outright (pyghmi hangs on a second session to the same BMC in one process), and
it is what operators already debug with. Each call is ``run_process`` with an argv list (no
shell), ``-C <cipher>`` (no cipher-suite probe: 10 s per call on some BMCs), ``-N/-R`` (a dead BMC
fails in ~2 s, not 20 s), ``-v`` (so a wrong password and a dead BMC can be told apart), and the
password only as ``-f FILE``: argv is world-readable in /proc, so it never holds the secret, and
``IPMI_PASSWORD`` is removed from the child's environment so ``-f`` is the only source.

Example::

    bmc = Bmc(load_target(node_config, where="node hv1"), timeout=5)
    bmc.power_status()          # PowerState.ON
    bmc.power_off()             # returns once the BMC acknowledged; confirm with power_status()
"""

from __future__ import annotations

import os
import threading
import time

from pvc.errors import CommandNotFound, CommandTimeout, ExecutionError
from pvc.ipmi.errors import BmcAuthFailed, BmcCommandFailed, BmcError, BmcUnreachable
from pvc.ipmi.parse import PowerState, classify_failure, control_acknowledged, parse_status, reason
from pvc.ipmi.retry import RetryPolicy
from pvc.ipmi.target import BmcTarget, check_password_file
from pvc.process import ProcessResult, run_process

IPMITOOL = "ipmitool"
MAX_OUTPUT = 64 * 1024  # a status answer is one line; anything beyond this is not a BMC talking


class Bmc:
    """One node's BMC. Thread-safe (no state beyond its settings); each call opens its own
    session. ``timeout`` bounds each ipmitool run, ``retry`` bounds the tries on
    :class:`BmcUnreachable`, and a ``deadline`` (``time.monotonic()``) passed to a call bounds
    the whole call including retries; ``cancel`` set ends a pending retry wait."""

    def __init__(
        self,
        target: BmcTarget,
        *,
        timeout: float = 5.0,
        retry: RetryPolicy | None = None,
        session_timeout: int = 1,
        session_retries: int = 1,
        ipmitool: str = IPMITOOL,
        cancel: threading.Event | None = None,
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self.session_timeout = max(1, int(session_timeout))
        self.session_retries = max(0, int(session_retries))
        self.ipmitool = ipmitool
        self.cancel = cancel

    @property
    def label(self) -> str:
        return self.target.label

    def __repr__(self) -> str:
        return f"Bmc({self.label})"

    def argv(self, *command: str) -> list[str]:
        """The full command line for ``ipmitool COMMAND...``: names the password file, never holds
        the password."""
        t = self.target
        return [self.ipmitool, "-v", "-I", t.interface, "-C", str(t.cipher),
                "-N", str(self.session_timeout), "-R", str(self.session_retries),
                "-H", t.host, "-p", str(t.port), "-U", t.user, "-f", t.password_file, *command]

    def power_status(self, deadline: float | None = None) -> PowerState:
        """What the BMC says; UNKNOWN if the answer is not exactly one recognisable state."""
        return parse_status(self._call(("chassis", "power", "status"), deadline).stdout)

    def power_off(self, deadline: float | None = None) -> None:
        """Hard power off (not an ACPI shutdown: a hung OS ignores that). On most BMCs this is
        asynchronous: confirm with :meth:`power_status` or :func:`pvc.ipmi.fence.confirm_off`."""
        self._control("off", deadline)

    def power_on(self, deadline: float | None = None) -> None:
        self._control("on", deadline)

    def power_cycle(self, deadline: float | None = None) -> None:
        """Off, then on after the BMC's own interval. Many BMCs refuse a cycle while off: a fencer
        uses ``confirm_off`` then ``power_on`` instead."""
        self._control("cycle", deadline)

    def _control(self, action: str, deadline: float | None) -> None:
        result = self._call(("chassis", "power", action), deadline)
        if not control_acknowledged(result.stdout, action):
            raise BmcCommandFailed(f"BMC {self.label}: chassis power {action}: unexpected answer: "
                                   f"{reason('', result.stdout)}")

    def _call(self, command: tuple[str, ...], deadline: float | None) -> ProcessResult:
        """One command, retried on :class:`BmcUnreachable` within the policy and the deadline."""
        return self.retry.run(lambda: self._once(command, deadline), retry_on=(BmcUnreachable,),
                              deadline=deadline, cancel=self.cancel)

    def _once(self, command: tuple[str, ...], deadline: float | None) -> ProcessResult:
        what = " ".join(command)
        timeout = self.timeout if deadline is None else min(self.timeout, deadline - time.monotonic())
        if timeout <= 0:
            raise BmcUnreachable(f"BMC {self.label}: {what}: deadline passed before the call")
        check_password_file(self.target.password_file, f"BMC {self.label}")  # it may have changed since load
        env = {k: v for k, v in os.environ.items() if k != "IPMI_PASSWORD"}
        env["LC_ALL"] = "C"
        try:
            result = run_process(self.argv(*command), label=f"ipmi {self.label}", env=env, timeout=timeout,
                                 max_output=MAX_OUTPUT)
        except CommandTimeout:
            raise BmcUnreachable(f"BMC {self.label}: {what}: no answer within {timeout:.3g} s") from None
        except CommandNotFound:
            raise BmcCommandFailed(f"BMC {self.label}: {what}: {self.ipmitool} is not installed") from None
        except ExecutionError as exc:
            if type(exc) is not ExecutionError:  # a job's kill or deadline: the caller's business
                raise
            raise BmcCommandFailed(f"BMC {self.label}: {what}: {exc}") from None
        if result.retcode != 0:
            cls = classify_failure(result.stderr)
            raise cls(f"BMC {self.label}: {what}: {_KIND.get(cls, 'failed')}: {reason(result.stderr, result.stdout)}")
        return result


_KIND: dict[type[BmcError], str] = {
    BmcAuthFailed: "login refused (wrong user or password?)",
    BmcUnreachable: "unreachable",
    BmcCommandFailed: "failed",
}
