"""Migration plan checks and where QEMU's stream goes (pure; no daemon)."""

from __future__ import annotations

import pytest

from pvc.errors import InvalidArgument
from pvc.virt.migrate import MigrationPlan, data_uri


@pytest.mark.parametrize("dest, data_host, default, expected", [
    ("qemu+tcp://10.0.0.2/system", "", "", "tcp://10.0.0.2"),
    ("qemu+tcp://[fd00::2]:16509/system", "", "", "tcp://[fd00::2]"),
    ("qemu+tcp://hv2/system", "10.9.0.2:49152", "", "tcp://10.9.0.2:49152"),
    ("qemu+unix:///system?socket=/run/b.sock", "", "127.0.0.1", "tcp://127.0.0.1"),
    ("qemu:///system", "", "", None),
])
def test_data_uri(dest: str, data_host: str, default: str, expected: str | None) -> None:
    assert data_uri(dest, data_host, default) == expected


@pytest.mark.parametrize("options, message", [
    ({"method": "teleport"}, "method must be one of live-or-shutdown, live, shutdown"),
    ({"retries": 11}, "retries"),
    ({"retries": True}, "retries"),
    ({"timeout": 0}, "timeout"),
    ({"max_downtime_ms": 0.5}, "max_downtime_ms"),
])
def test_bad_plans(options: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        MigrationPlan(dest_uri="qemu+tcp://hv2/system", **options)
