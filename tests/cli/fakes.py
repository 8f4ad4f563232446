"""A stand-in for :class:`pvc.client.Client` so CLI tests need no master.

Example::

    fake = FakeClient(returns=[("m2", Return(True, 1)), ("m1", Return(True, 2))])
    use_fake(monkeypatch, fake)
    CliRunner().invoke(cli, ["run", "*", "test.ping"])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Self

import pytest

from pvc.results import JobResult, Return


class FakeStream:
    """Like ``ReturnStream``: yields the returns, then records the master's ``missing``."""

    def __init__(self, client: FakeClient, result: JobResult) -> None:
        self.client = client
        self.result = result

    def __iter__(self) -> Iterator[tuple[str, Return]]:
        for n, (mid, ret) in enumerate(self.client.returns):
            if n == self.client.interrupt_after:
                raise KeyboardInterrupt
            self.result.returns[mid] = ret
            yield mid, ret
        self.result.missing.update(self.client.missing)


@dataclass
class FakeClient:
    """Answers ``iter_run`` with ``returns`` in order, then ``missing`` as the master's done."""

    returns: list[tuple[str, Return]] = field(default_factory=list)
    minions: list[str] | None = None
    missing: dict[str, str] = field(default_factory=dict)
    jid: str = "20240101000000000001"
    interrupt_after: int | None = None
    config_dir: str = ""
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def iter_run(self, tgt: str, fun: str, args: Any, kwargs: Any, tgt_type: str, timeout: Any) -> FakeStream:
        self.calls.append((tgt, fun, args, kwargs, tgt_type, timeout))
        minions = self.minions if self.minions is not None else sorted({m for m, _ in self.returns} | set(self.missing))
        return FakeStream(self, JobResult(self.jid, minions))

    def run_async(self, tgt: str, fun: str, args: Any, kwargs: Any, tgt_type: str, timeout: Any,
                  stream: bool = True) -> str:
        self.calls.append((tgt, fun, args, kwargs, tgt_type, timeout))
        return self.jid


def use_fake(monkeypatch: pytest.MonkeyPatch, fake: FakeClient) -> FakeClient:
    """Make every CLI command that opens the master's socket get ``fake`` instead."""

    def open_client(config_dir: str) -> FakeClient:
        fake.config_dir = config_dir
        return fake

    monkeypatch.setattr("pvc.cli.connect.open_client", open_client)
    return fake
