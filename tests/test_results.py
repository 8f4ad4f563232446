"""JobResult: who failed and why, and raise_on_error."""

from __future__ import annotations

import pytest

from pvc.results import JobFailed, JobResult, Return


def test_failed_names_errors_and_non_returners_and_raise_on_error_raises() -> None:
    res = JobResult("j1", ["a", "b", "c"], {"a": Return(True, 1), "b": Return(False, error="boom")}, {"c": "timed out"})
    assert res.failed == {"b": "boom", "c": "no return (timed out)"}
    with pytest.raises(JobFailed, match="2 minion") as info:
        res.raise_on_error()
    assert info.value.failed == res.failed and info.value.jid == "j1"
    ok = JobResult("j2", ["a"], {"a": Return(True, 1)})
    assert ok.failed == {} and ok.raise_on_error() is ok
