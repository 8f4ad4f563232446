"""Fence a node: power it off through its BMC and wait for the BMC to *confirm* it is off.

Why a confirmation: a node's VMs may be started elsewhere only once the node can no longer write
to their disks. ``chassis power off`` returning says only that the BMC took the order (most BMCs
act asynchronously, some drop orders while busy), so the fence is confirmed by an explicit
``off`` status reading, nothing else: an unknown or garbled answer, an unreachable BMC, a refused
login or a node still on at the deadline all give ``confirmed=False`` (PVC's "failed fence" guard
was always true; here there is one field and one way to set it). The off order is sent again if
the BMC still reads ``on`` after ``resend`` seconds.

Bounded: everything happens before ``deadline`` seconds have passed (each BMC call is clipped to
it); polls are ``poll`` seconds apart, waited on a ``threading.Event`` so a fencer that loses its
role stops at once.

Example::

    result = confirm_off(Bmc(target), deadline=10, poll=0.25)
    if result.confirmed:
        recover_vms(node)
    else:
        mark_fence_failed(node, str(result.error))   # e.g. "BMC admin@10.0.0.5:623: login refused ..."
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pvc.errors import InvalidArgument
from pvc.ipmi.errors import BmcAuthFailed, BmcError
from pvc.ipmi.parse import PowerState


class FenceNotConfirmed(BmcError, TimeoutError):
    """The deadline passed (or the fence was cancelled) without an ``off`` reading."""


class PowerControl(Protocol):
    """What fencing needs from a BMC adapter (:class:`pvc.ipmi.ipmitool.Bmc`; a pyghmi one fits)."""

    @property
    def label(self) -> str: ...

    def power_status(self, deadline: float | None = None) -> PowerState: ...

    def power_off(self, deadline: float | None = None) -> None: ...


@dataclass(frozen=True)
class FenceResult:
    """``confirmed`` is True only after an explicit ``off`` reading; ``state`` is the last
    reading, ``attempts`` the status readings tried, ``off_commands`` the off orders sent,
    ``elapsed`` seconds, ``error`` why not confirmed (None when confirmed)."""

    confirmed: bool
    state: PowerState
    attempts: int
    elapsed: float
    error: BmcError | None = None
    off_commands: int = 0


def confirm_off(
    bmc: PowerControl,
    deadline: float,
    poll: float = 0.25,
    *,
    resend: float = 5.0,
    cancel: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FenceResult:
    """Power ``bmc`` off and poll its status until it reads off or ``deadline`` seconds pass.

    Never raises a :class:`BmcError`: every outcome is a :class:`FenceResult`, so a fencer
    records it as ``fenced`` or ``fence-failed`` without a try/except ladder.
    """
    if deadline <= 0 or poll <= 0:
        raise InvalidArgument(f"confirm_off: deadline and poll must be > 0, got {deadline} and {poll}")
    waiter = cancel if cancel is not None else threading.Event()
    start = clock()
    end = start + deadline
    state, attempts, sent = PowerState.UNKNOWN, 0, 0
    error: BmcError | None = None
    last_sent: float | None = None

    def result(confirmed: bool, why: BmcError | None) -> FenceResult:
        return FenceResult(confirmed, state, attempts, clock() - start, None if confirmed else why, sent)

    while True:
        if last_sent is None or (state is PowerState.ON and clock() - last_sent >= resend):
            sent, last_sent = sent + 1, clock()
            try:
                bmc.power_off(deadline=end)
            except BmcAuthFailed as exc:
                return result(False, exc)  # status would be refused too; retrying risks a lockout
            except BmcError as exc:
                error = exc  # maybe already off, maybe busy: the status reading decides
        attempts += 1
        try:
            state = bmc.power_status(deadline=end)
        except BmcAuthFailed as exc:
            state = PowerState.UNKNOWN
            return result(False, exc)
        except BmcError as exc:
            state, error = PowerState.UNKNOWN, exc
        if state is PowerState.OFF:
            return result(True, None)
        remaining = end - clock()
        if remaining <= 0:
            break
        if waiter.wait(min(poll, remaining)):
            return result(False, FenceNotConfirmed(f"BMC {bmc.label}: fence cancelled after "
                                                   f"{clock() - start:.1f} s (last reading: {state.value})"))
    if state is PowerState.UNKNOWN and error is not None:
        return result(False, error)
    last = f"; last error: {error}" if error is not None else ""
    return result(False, FenceNotConfirmed(f"BMC {bmc.label}: not confirmed off within {deadline:g} s "
                                           f"(last reading: {state.value}{last})"))
