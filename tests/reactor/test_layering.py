"""The reactor reaches nodes only as a client of its master (layout: Reactor -> Client): it never
imports the master, the minion, the runners (runner actions arrive as a callable), the CLI or an
adapter; and the minion's daemon reaches beacon code only inside the branch that starts beacons."""

from __future__ import annotations

import pytest

from tests.execution.test_layering import PKG, _offending

FORBIDDEN = ("pvc.master", "pvc.minion", "pvc.runners", "pvc.cli", "pvc.cluster", "pvc.virt", "pvc.ceph",
             "pvc.net", "pvc.frr", "pvc.dnsmasq", "pvc.modules", "pvc.states")


@pytest.mark.parametrize("forbidden", FORBIDDEN)
def test_reactor_imports_only_the_client_side(forbidden: str) -> None:
    assert _offending(sorted((PKG / "reactor").rglob("*.py")), forbidden) == {}


@pytest.mark.parametrize("forbidden", ["pvc.master", "pvc.cli", "pvc.runners", "pvc.reactor", "jinja2"])
def test_beacons_know_only_the_minion_side(forbidden: str) -> None:
    assert _offending(sorted((PKG / "minion" / "beacons").rglob("*.py")), forbidden) == {}
