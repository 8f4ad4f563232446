"""Results as values: what one minion returned for one job, and a job's aggregate.

``Return`` is what travels back on the wire (as a plain map) and what the job cache stores.
``JobResult`` aggregates the returns of one job and knows who did not return and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pvc.errors import ExecutionError

# Why a targeted minion did not return.
NOT_CONNECTED = "not connected"
TIMED_OUT = "timed out"
RESTARTED = "minion restarted during the job"
STILL_RUNNING = "still running"  # at the deadline the minion was alive and said it was on it


@dataclass(frozen=True)
class Return:
    """One minion's answer. ``ok`` is False when the function raised; ``error`` says why."""

    ok: bool
    data: Any = None
    error: str = ""
    error_type: str = ""
    duration: float = 0.0

    def salt_shape(self) -> Any:
        """What Salt's ``--out json`` would print for this minion: the data, or the error text."""
        return self.data if self.ok else f"ERROR: {self.error}"


class JobFailed(ExecutionError):
    """Some targeted minions of a job failed or did not return (``failed``: minion -> why)."""

    def __init__(self, jid: str, failed: Mapping[str, str]) -> None:
        self.jid = jid
        self.failed = dict(failed)
        shown = "; ".join(f"{mid}: {why}" for mid, why in list(self.failed.items())[:5])
        more = f" (and {len(self.failed) - 5} more)" if len(self.failed) > 5 else ""
        super().__init__(f"job {jid}: {len(self.failed)} minion(s) failed: {shown}{more}")


@dataclass
class JobResult:
    """All returns of one job, plus the minions that did not return and the reason."""

    jid: str
    minions: list[str]
    returns: dict[str, Return] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.missing and all(r.ok for r in self.returns.values())

    @property
    def failed(self) -> dict[str, str]:
        """Every minion that did not succeed, and why: its error, or why it did not return."""
        out = {mid: ret.error or "failed" for mid, ret in self.returns.items() if not ret.ok}
        out.update({mid: f"no return ({why})" for mid, why in self.missing.items() if mid not in self.returns})
        return dict(sorted(out.items()))

    def raise_on_error(self) -> JobResult:
        """Return self when every targeted minion succeeded, else raise :class:`JobFailed`
        naming each failure (nornir's ``raise_on_error``)::

            client.run("hv*", "virt.list").raise_on_error().returns
        """
        failed = self.failed
        if failed:
            raise JobFailed(self.jid, failed)
        return self

    def salt_shape(self) -> dict[str, Any]:
        return {mid: ret.salt_shape() for mid, ret in sorted(self.returns.items())}

    def mark_timed_out(self) -> None:
        for mid in self.minions:
            if mid not in self.returns:
                self.missing.setdefault(mid, TIMED_OUT)
