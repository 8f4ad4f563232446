"""The libzmq the master runs: pvc's build (scripts/libzmq.sh) in this venv, and the channel's
per-connection buffers that only its draft API can set."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import zmq

from pvc.master import zmqbuild


def test_this_venv_runs_pvc_build_of_libzmq() -> None:
    """`make test`'s set-up builds it (scripts/libzmq.sh); with the PyPI wheel's libzmq each minion
    costs the master ~100 KiB once its connection has carried a few hundred messages."""
    path = zmqbuild.loaded_library()
    assert zmqbuild.is_pvc_build(path), f"pyzmq loads {path}, not {sys.prefix}/libzmq/lib (run scripts/libzmq.sh)"
    assert zmq.has("draft") and zmq.has("curve")
    ours, line = zmqbuild.describe()
    assert ours and "pvc's build" in line


def test_curve_handshakes_take_no_guarded_pages() -> None:
    """libzmq's stock build takes each CURVE handshake buffer from sodium_malloc (an mmap,
    mprotects, mlock, munlock and a munmap each); pvc's takes them from the heap and wipes them
    with sodium_memzero when freed (scripts/libzmq.sh)."""
    nm = shutil.which("nm")
    assert nm, "binutils' nm is missing (scripts/setup.sh installs it with g++)"
    path = zmqbuild.loaded_library()
    assert path is not None
    imported = subprocess.run([nm, "-D", "--undefined-only", path], capture_output=True, text=True,
                              check=True).stdout.split()
    assert "sodium_memzero" in imported
    assert not {"sodium_malloc", "sodium_allocarray", "sodium_free"} & set(imported)


def test_channel_connections_get_small_buffers() -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    try:
        options = zmqbuild.connection_buffers()
        assert set(options) == {zmq.IN_BATCH_SIZE, zmq.OUT_BATCH_SIZE}
        for option, value in options.items():
            sock.setsockopt(option, value)
            assert sock.getsockopt(option) == zmqbuild.BUFFER_BYTES
    finally:
        sock.close(0)
        ctx.term()


def test_loaded_library_is_read_from_the_memory_map(tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    maps.write_text("7f00-7f01 r--p 00000000 00:00 0 \n"
                    "7f01-7f02 r-xp 00000000 08:01 12 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
                    "7f02-7f03 r-xp 00000000 08:01 13 /opt/pvc/libzmq/lib/libzmq.so.5.2.4\n")
    path = zmqbuild.loaded_library(str(maps))
    assert path == "/opt/pvc/libzmq/lib/libzmq.so.5.2.4"
    assert zmqbuild.is_pvc_build(path, prefix="/opt/pvc")
    assert not zmqbuild.is_pvc_build(path, prefix="/opt/other")
    assert not zmqbuild.is_pvc_build("/opt/pvc/lib/python3.11/site-packages/pyzmq.libs/libzmq-a1b2.so.5.2.5",
                                   prefix="/opt/pvc")
    assert not zmqbuild.is_pvc_build(None)
    assert zmqbuild.loaded_library(str(tmp_path / "absent")) is None


def test_another_libzmq_is_named_with_what_it_costs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zmqbuild, "loaded_library", lambda: "/usr/lib/x86_64-linux-gnu/libzmq.so.5.2.5")
    ours, line = zmqbuild.describe()
    assert not ours
    assert "/usr/lib/x86_64-linux-gnu/libzmq.so.5.2.5" in line and "scripts/libzmq.sh" in line
