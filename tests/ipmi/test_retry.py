"""RetryPolicy: bounded by tries and by the deadline, only the named errors, cancellable."""

from __future__ import annotations

import threading
import time

import pytest

from pvc.errors import InvalidArgument
from pvc.ipmi.errors import BmcAuthFailed, BmcUnreachable
from pvc.ipmi.retry import RetryPolicy


class Flaky:
    def __init__(self, failures: int, exc: Exception) -> None:
        self.failures, self.exc, self.calls = failures, exc, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc
        return "ok"


def test_backoff_is_capped() -> None:
    p = RetryPolicy(delay=0.1, backoff=2, max_delay=0.3)
    assert [p.wait_before(n) for n in (2, 3, 4, 5)] == [0.1, 0.2, 0.3, 0.3]


def test_retries_until_success() -> None:
    call = Flaky(2, BmcUnreachable("x"))
    assert RetryPolicy(max_tries=3, delay=0.01).run(call, retry_on=(BmcUnreachable,)) == "ok"
    assert call.calls == 3


def test_gives_up_after_max_tries_with_the_last_error() -> None:
    call = Flaky(5, BmcUnreachable("down"))
    with pytest.raises(BmcUnreachable, match="down"):
        RetryPolicy(max_tries=3, delay=0.01).run(call, retry_on=(BmcUnreachable,))
    assert call.calls == 3


def test_does_not_retry_other_errors() -> None:
    call = Flaky(5, BmcAuthFailed("wrong password"))
    with pytest.raises(BmcAuthFailed):
        RetryPolicy(max_tries=5, delay=0.01).run(call, retry_on=(BmcUnreachable,))
    assert call.calls == 1


def test_does_not_start_a_wait_that_crosses_the_deadline() -> None:
    call = Flaky(5, BmcUnreachable("down"))
    t0 = time.monotonic()
    with pytest.raises(BmcUnreachable):
        RetryPolicy(max_tries=10, delay=1.0).run(call, retry_on=(BmcUnreachable,), deadline=t0 + 0.5)
    assert call.calls == 1 and time.monotonic() - t0 < 0.2


def test_cancel_ends_a_wait_at_once() -> None:
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    call = Flaky(5, BmcUnreachable("down"))
    t0 = time.monotonic()
    with pytest.raises(BmcUnreachable):
        RetryPolicy(max_tries=10, delay=5.0).run(call, retry_on=(BmcUnreachable,), cancel=cancel)
    assert time.monotonic() - t0 < 1.0


@pytest.mark.parametrize("kwargs", [{"max_tries": 0}, {"delay": -1}, {"backoff": 0.5}])
def test_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidArgument):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
