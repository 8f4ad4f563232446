"""pytest fixtures for the net backends (see tests/cluster/net.py).

``net_lab`` (session): a :class:`NetLab` owning namespaces and daemons, all removed at the end.
``netns`` (per test): a fresh namespace name (``lo`` up), removed after the test.
``pvc_functions`` (factory): ``pvc_functions(frr={...})`` -> a ``MinionFunctions`` with those
module configs, i.e. the ``pvc call`` code path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.cluster.net import NetLab, remove_netns


@pytest.fixture(scope="session")
def net_lab() -> Iterator[NetLab]:
    with NetLab() as lab:
        yield lab


@pytest.fixture
def netns(net_lab: NetLab) -> Iterator[str]:
    name = net_lab.netns(f"t{len(net_lab.namespaces)}")
    yield name
    remove_netns(name)
    net_lab.namespaces.remove(name)


@pytest.fixture
def pvc_functions() -> Iterator[Callable[..., Any]]:
    from pvc.config import MinionConfig
    from pvc.minion.functions import MinionFunctions

    made: list[MinionFunctions] = []

    def make(**modules: Any) -> MinionFunctions:
        funcs = MinionFunctions(MinionConfig(id="t", modules=modules), grains={})
        made.append(funcs)
        return funcs

    yield make
    for funcs in made:
        funcs.close()
