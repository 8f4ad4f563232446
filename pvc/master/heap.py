"""Give memory the master has freed back to the system.

glibc keeps what a thread frees inside that thread's arena and returns it only from the top of
the heap. libzmq's I/O threads allocate a buffer for every chunk they read, and this process
frees them in another order: after a stranger's endless-stream flood (~100 connections, each
closed within 3 MiB) the master stayed 12-30 MiB larger for good, in pages that held nothing.
``malloc_trim(0)`` hands every whole free page of every arena back (~2 ms for a 50 MiB master),
so the master's size tracks what it holds, not its worst moment.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable


def _libc_trim() -> Callable[[int], int] | None:
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:  # pragma: no cover - a libc without a handle for this process
        return None


_TRIM = _libc_trim()


def give_back() -> bool:
    """Return free pages to the system; False where the C library has no ``malloc_trim``
    (musl, macOS): there is then nothing this process can ask for."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
