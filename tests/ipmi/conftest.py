"""A small real lab for the BMC tests: 2 nodes (no VMs), each with its ``ipmi_sim`` BMC whose
power-off kills the node's processes. Same pattern as tests/lab/conftest.py (``pvc lab up`` as a
separate process, ``pvc lab down`` at the end), smaller because only the BMCs matter here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab.conftest import RunningLab, running_lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    with running_lab(tmp_path_factory, "ipmilab", nodes=2, vms=0) as running:
        yield running
