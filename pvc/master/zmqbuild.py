"""Which libzmq the master runs, and the per-connection buffers it can ask of it.

A master holds one connection per minion, and most of what a connection costs it is fixed when
libzmq is compiled: message queues grow in chunks of 256 messages (16 KiB) and keep a spare
chunk each, so a connection that has carried a few hundred messages holds ~100 KiB.
``scripts/libzmq.sh`` builds Debian's libzmq source with 4-message chunks and the draft API into
the venv (``VENV/libzmq``) and pyzmq against it: there a minion costs the master ~18-25 KiB at
any age, and a CURVE handshake takes its buffers from the heap instead of guarded, locked pages
(a quarter less libzmq CPU when a fleet comes back; docs/scale.md). With another libzmq the
master still works, and says what it will cost.
"""

from __future__ import annotations

import os
import sys

import zmq

BUFFER_BYTES = 512  # libzmq's default is 8 KiB each way


def connection_buffers() -> dict[int, int]:
    """Read and write buffer sizes for channel connections, where libzmq's draft API lets them be
    set: a minion's boxes are a few hundred bytes, and a larger message is read into a buffer of
    its own either way."""
    if not zmq.has("draft"):
        return {}
    return {zmq.IN_BATCH_SIZE: BUFFER_BYTES, zmq.OUT_BATCH_SIZE: BUFFER_BYTES}


def loaded_library(maps: str = "/proc/self/maps") -> str | None:
    """The file of the libzmq this process runs (from its memory map), None if none is seen."""
    try:
        with open(maps) as fh:
            for line in fh:
                path = line.rstrip("\n").partition("/")[2]
                if path and "libzmq" in os.path.basename(path):
                    return "/" + path
    except OSError:
        return None
    return None


def is_pvc_build(path: str | None, prefix: str = sys.prefix) -> bool:
    """Is ``path`` the libzmq that scripts/libzmq.sh built into this venv?"""
    return path is not None and path.startswith(os.path.join(prefix, "libzmq", "lib") + os.sep)


def describe() -> tuple[bool, str]:
    """(pvc's build?, a line for the master's log)."""
    path = loaded_library()
    version = zmq.zmq_version()
    if is_pvc_build(path):
        return True, (f"libzmq {version} (pvc's build: queues in 4-message chunks, 512-byte connection buffers, "
                      "CURVE handshakes on the heap)")
    return False, (f"libzmq {version} from {path or 'an unknown file'} is not pvc's build (scripts/libzmq.sh): "
                   "each connected minion will cost the master ~100 KiB instead of ~25 once it has "
                   "carried a few hundred messages")
