"""pvc.master.clients: what a publish costs on a large fleet. A job for named minions must not
walk the whole fleet (the start-up probe of 10,000 minions publishes such jobs in a loop)."""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from pvc.master.clients import ClientHandlers


class Fleet(Mapping[str, bytes]):
    """10,000 accepted minions that refuse to be walked: a lookup is fine, iteration fails."""

    def __init__(self, n: int) -> None:
        self.ids = {f"m{i:05d}": b"k" for i in range(n)}
        self.walked = False

    def __getitem__(self, mid: str) -> bytes:
        return self.ids[mid]

    def __contains__(self, mid: object) -> bool:
        return mid in self.ids

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[str]:
        self.walked = True
        return iter(self.ids)


@pytest.fixture
def fleet() -> Fleet:
    return Fleet(10_000)


def handlers(fleet: Fleet) -> ClientHandlers:
    ctx: Any = types.SimpleNamespace(nodegroups={}, accepted=lambda: fleet, grains={})
    return ClientHandlers(ctx)


@pytest.mark.parametrize("tgt,tgt_type", [("m00001,m00002,ghost", "list"), ("m00001", "glob"),
                                          ("L@m00001,m00002 or ghost", "compound")])
def test_named_targets_cost_their_ids_not_the_fleet(fleet: Fleet, tgt: str, tgt_type: str) -> None:
    _, expected = handlers(fleet)._target(tgt, tgt_type)
    assert set(expected) <= {"m00001", "m00002"} and "m00001" in expected
    assert not fleet.walked


def test_patterns_still_match_the_whole_fleet(fleet: Fleet) -> None:
    _, expected = handlers(fleet)._target("m0000*", "glob")
    assert expected == [f"m0000{i}" for i in range(10)] and fleet.walked
