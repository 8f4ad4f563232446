"""``pvc lab`` errors are one line and exit code 2, never a traceback."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from tests.lab.conftest import pvc


def test_status_without_a_lab(tmp_path: Path) -> None:
    proc = pvc("lab", "status", "--dir", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: no lab in") and "Traceback" not in proc.stderr


def test_bmc_port_in_use(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        proc = pvc("lab", "up", "--dir", str(tmp_path / "lab"), "--nodes", "1", "--bmc-port", str(port))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    if os.geteuid() != 0:
        assert "pvc lab needs root" in proc.stderr
        return
    assert f"127.0.0.1:{port}/udp is in use" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "lab" / "lab.json").exists()
