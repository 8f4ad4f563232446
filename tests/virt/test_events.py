"""libvirt lifecycle (event, detail) -> pvc bus tag (pure; no daemon)."""

from __future__ import annotations

import libvirt
import pytest

from pvc.virt.events import translate


@pytest.mark.parametrize("event, detail, tag, direction", [
    (libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED, "started", None),
    (libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_MIGRATED, "migrated", "in"),
    (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_MIGRATED, "migrated", "out"),
    (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED, "stopped", None),
    (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED, "crashed", None),
    (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED, "crashed", None),
    (libvirt.VIR_DOMAIN_EVENT_CRASHED, libvirt.VIR_DOMAIN_EVENT_CRASHED_PANICKED, "crashed", None),
    (libvirt.VIR_DOMAIN_EVENT_UNDEFINED, libvirt.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED, "undefined", None),
])
def test_reported_events(event: int, detail: int, tag: str, direction: str | None) -> None:
    found = translate("vm1", "u-1", event, detail, "hv1")
    assert found is not None
    assert found[0] == f"pvc/vm/vm1/{tag}"
    assert found[1]["node"] == "hv1" and found[1]["uuid"] == "u-1" and found[1].get("direction") == direction


def test_other_events_are_not_reported() -> None:
    assert translate("vm1", "u", libvirt.VIR_DOMAIN_EVENT_SUSPENDED, 0, "hv1") is None
    assert translate("vm1", "u", libvirt.VIR_DOMAIN_EVENT_DEFINED, 0, "hv1") is None
