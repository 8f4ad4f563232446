"""Dependencies point down (DESIGN.md): runners reach nodes only through jobs — never pvc.minion
nor an adapter (no libvirt or rados on the master) — and the master's loop never imports the
runners or the cluster layer (the coordinator is its child process)."""

from __future__ import annotations

import pytest

from tests.execution.test_layering import PKG, _offending

ADAPTERS = ("pvc.virt", "pvc.ceph", "pvc.net", "pvc.frr", "pvc.dnsmasq", "pvc.minion")


@pytest.mark.parametrize("forbidden", ADAPTERS)
def test_runners_import_no_minion_or_adapter(forbidden: str) -> None:
    files = sorted((PKG / "runners").rglob("*.py"))
    assert _offending(files, forbidden) == {}


@pytest.mark.parametrize("forbidden", ["pvc.runners", "pvc.cluster"])
def test_master_imports_no_runner_or_cluster(forbidden: str) -> None:
    assert _offending(sorted((PKG / "master").rglob("*.py")), forbidden) == {}


def test_placement_is_pure() -> None:
    from tests.execution.test_layering import imported_modules

    used = imported_modules(PKG / "runners" / "placement.py")
    assert not {m for m in used if m.startswith(("kazoo", "pvc.client", "pvc.cluster.store", "zmq"))}
