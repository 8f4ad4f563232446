"""What the job cache stores and returns, and the protocol both backends implement.

Example::

    JobRecord("20261125083000123456", "test.ping", [], {}, "web*", "glob", ["web1"], time.time(), 5.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# (jid, minion id, ReturnRec.to_map() map, unix time received): one return as the master batches it
ReturnItem = tuple[str, str, dict[str, Any], float]


@dataclass(frozen=True)
class JobRecord:
    """A published job and the minions it expects to hear from."""

    jid: str
    fun: str
    args: list[Any]
    kwargs: dict[str, Any]
    tgt: str
    tgt_type: str
    minions: list[str]
    started: float
    timeout: float
    user: str = ""


@dataclass(frozen=True)
class StoredReturn:
    minion_id: str
    ret: dict[str, Any]
    received: float


@dataclass(frozen=True)
class JobView:
    """One job as ``pvc job show`` sees it: who returned what, and who did not and why."""

    record: JobRecord
    returns: dict[str, StoredReturn]
    missing: dict[str, str]


@dataclass(frozen=True)
class JobSummary:
    """One line of ``pvc job list``."""

    jid: str
    fun: str
    tgt: str
    tgt_type: str
    started: float
    minions: int
    returned: int
    failed: int


@dataclass(frozen=True)
class JobTargets:
    """Who a job expects and who has answered: what a restarted master needs to re-arm the
    job's deadline and to tell a resent return from a new one.

    Example::

        t = cache.lookup_jobs(["20261125083000123456"])["20261125083000123456"]
        t.outstanding    # frozenset({'web2'}): no return yet and not marked missing
    """

    jid: str
    expected: frozenset[str]
    returned: frozenset[str]
    created: float
    timeout: float
    missing: frozenset[str] = frozenset()  # marked by ``mark_missing`` and not returned since

    @property
    def outstanding(self) -> frozenset[str]:
        return self.expected - self.returned - self.missing


class JobCache(Protocol):
    def new_job(self, job: JobRecord) -> None: ...
    def add_returns(self, items: Sequence[ReturnItem]) -> list[bool]: ...
    def write(self, jobs: Sequence[JobRecord], returns: Sequence[ReturnItem]) -> list[bool]: ...
    def mark_missing(self, jid: str, missing: Mapping[str, str]) -> None: ...
    def lookup_jobs(self, jids: Sequence[str]) -> dict[str, JobTargets]: ...
    def open_jobs(self, since: float, limit: int) -> list[JobTargets]: ...
    def get_job(self, jid: str) -> JobView | None: ...
    def list_jobs(self, limit: int = 50, fun: str | None = None) -> list[JobSummary]: ...
    def prune(self, older_than: float) -> int: ...
    def close(self) -> None: ...
