"""Ceph client detection and the bounded monitor reachability probe, against loopback sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pvc.grains.cephprobe import ceph_caps, mon_addresses, tcp_reachable
from pvc.grains.host import LIB_DIRS
from tests.grains.trees import make_host

FIXTURES = Path(__file__).parent / "fixtures" / "ceph"


@pytest.fixture
def listener() -> Iterator[int]:
    """A loopback TCP port that accepts connections (a stand-in for a ceph-mon)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_mon_addresses_msgr2() -> None:
    assert mon_addresses((FIXTURES / "msgr2.conf").read_text()) == [
        ("10.0.0.1", 3300), ("10.0.0.1", 6789), ("10.0.0.2", 3300), ("10.0.0.2", 6789)]


def test_mon_addresses_legacy_skips_names() -> None:
    assert mon_addresses((FIXTURES / "legacy.conf").read_text()) == [
        ("10.0.0.5", 3300), ("10.0.0.5", 6789), ("10.0.0.6", 6790), ("fd00::5", 6789)]


def test_reachable_and_refused(listener: int) -> None:
    assert tcp_reachable([("127.0.0.1", _closed_port()), ("127.0.0.1", listener)], 1.0)
    start = time.monotonic()
    assert not tcp_reachable([("127.0.0.1", _closed_port())], 1.0)
    assert time.monotonic() - start < 0.5  # a refusal does not wait for the budget


def test_unanswered_syn_costs_at_most_the_budget() -> None:
    """A listener whose accept queue is full drops SYNs, like a mon behind a dead link."""
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        port = full.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=1):  # fills the queue of one
            start = time.monotonic()
            assert not tcp_reachable([("127.0.0.1", port)], 0.05)
            assert time.monotonic() - start < 0.3


def _ceph_root(tmp_path: Path, conf: str, libs: tuple[str, ...] = ("librados.so.2", "librbd.so.1")):
    files = {"/etc/ceph/ceph.conf": conf}
    files.update({f"{LIB_DIRS[0]}/{lib}": "" for lib in libs})
    return make_host(tmp_path, files)


def test_configured_client_with_live_mon(tmp_path: Path, listener: int, monkeypatch) -> None:
    monkeypatch.delenv("CEPH_CONF", raising=False)
    host = _ceph_root(tmp_path, f"[global]\nmon_host = [v2:127.0.0.1:{listener}/0]\n")
    assert ceph_caps(host) == {"ceph": True, "rbd": True, "ceph_conf": "/etc/ceph/ceph.conf", "ceph_reachable": True}


def test_client_variants(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CEPH_CONF", raising=False)
    dead = f"mon host = 127.0.0.1:{_closed_port()}\n"
    assert ceph_caps(_ceph_root(tmp_path / "a", dead))["ceph_reachable"] is False
    assert ceph_caps(_ceph_root(tmp_path / "b", "mon host = mon1.example\n"))["ceph_reachable"] is None
    no_rbd = ceph_caps(_ceph_root(tmp_path / "c", dead, libs=("librados.so.2",)))
    assert no_rbd["ceph"] is True and no_rbd["rbd"] is False
    no_lib = ceph_caps(_ceph_root(tmp_path / "d", dead, libs=()))
    assert no_lib == {"ceph": False, "rbd": False, "ceph_conf": "/etc/ceph/ceph.conf", "ceph_reachable": None}
    assert ceph_caps(make_host(tmp_path / "e", {}))["ceph_conf"] is None


def test_ceph_conf_from_environment(tmp_path: Path, monkeypatch) -> None:
    host = _ceph_root(tmp_path, "")
    (tmp_path / "cluster.conf").write_text("[global]\n")
    monkeypatch.setenv("CEPH_CONF", "/cluster.conf")
    assert ceph_caps(host)["ceph_conf"] == "/cluster.conf"
