"""How often and how patiently to retry a BMC call: a value object, as kazoo's ``KazooRetry``.

BMCs drop UDP packets, run out of sessions and reboot their own firmware; one lost packet must not
turn a fence into ``fence-failed``. But a fence has a deadline, so retries are bounded twice: by
``max_tries`` and by the caller's deadline (a wait that would cross it is not started). Only the
errors the caller names are retried (for BMC calls: :class:`~pvc.ipmi.errors.BmcUnreachable`);
a refused password is never retried.

Waits go through a ``threading.Event``, so a caller that must stop (a primary losing its
election) ends a retry at once instead of sleeping it out.

Example::

    policy = RetryPolicy(max_tries=3, delay=0.2, backoff=2.0, max_delay=1.0)
    status = policy.run(lambda: bmc_call(), retry_on=(BmcUnreachable,), deadline=time.monotonic() + 5)
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pvc.errors import InvalidArgument

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``max_tries`` calls at most; the n-th wait is ``delay * backoff**(n-1)`` capped at
    ``max_delay``, each stretched by up to ``jitter`` (a fraction) so fencers do not march in step."""

    max_tries: int = 3
    delay: float = 0.2
    backoff: float = 2.0
    max_delay: float = 2.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.max_tries < 1:
            raise InvalidArgument(f"retry: max_tries must be >= 1, got {self.max_tries}")
        if self.delay < 0 or self.max_delay < 0 or self.jitter < 0 or self.backoff < 1:
            raise InvalidArgument("retry: delay, max_delay and jitter must be >= 0 and backoff >= 1")

    def wait_before(self, attempt: int) -> float:
        """Seconds to wait before try number ``attempt`` (2, 3, ...), without jitter."""
        return min(self.max_delay, self.delay * self.backoff ** max(0, attempt - 2))

    def run(
        self,
        call: Callable[[], T],
        *,
        retry_on: tuple[type[BaseException], ...],
        deadline: float | None = None,
        cancel: threading.Event | None = None,
    ) -> T:
        """``call()`` until it returns, raises something not in ``retry_on``, runs out of tries,
        or the next wait would cross ``deadline`` (``time.monotonic()``); then the last error is
        raised. ``cancel`` set during a wait ends the retrying with that error too."""
        event = cancel if cancel is not None else threading.Event()
        attempt = 1
        while True:
            try:
                return call()
            except retry_on:
                attempt += 1
                if attempt > self.max_tries:
                    raise
                pause = self.wait_before(attempt) * (1 + random.uniform(0, self.jitter))
                if deadline is not None and time.monotonic() + pause >= deadline:
                    raise
                if event.wait(pause):
                    raise
