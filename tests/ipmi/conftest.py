"""A small real lab for the BMC tests: 2 nodes (no VMs), each with its ``ipmi_sim`` BMC whose
power-off kills the node's processes. Same pattern as tests/lab/conftest.py (``pvc lab up`` as a
separate process, ``pvc lab down`` at the end), smaller because only the BMCs matter here."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.lab.conftest import RunningLab, missing_lab_support, pvc


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    reason = missing_lab_support()
    if reason:
        pytest.skip(reason)
    lab_dir = tmp_path_factory.mktemp("ipmilab") / "lab"
    t0 = time.monotonic()
    proc = pvc("lab", "up", "--dir", str(lab_dir), "--nodes", "2", "--vms", "0")
    seconds = time.monotonic() - t0
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        yield RunningLab(lab_dir, proc, seconds)
    finally:
        if (lab_dir / "lab.json").exists():
            pvc("lab", "down", "--dir", str(lab_dir))
