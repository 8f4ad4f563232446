"""pvc.master.heap: pages a thread freed in the middle of its arena go back to the system."""

from __future__ import annotations

import subprocess
import sys

# A thread (as libzmq's I/O threads do) fills its arena with 8 KiB buffers and frees all but every
# 16th: glibc alone keeps the freed pages (it trims only from the top, and the top buffer lives).
FRAGMENT = """
import ctypes, threading
from pvc.master import heap

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

def fill():
    blocks = [libc.malloc(8192) for _ in range(16_000)]
    for b in blocks:
        ctypes.memset(b, 1, 8192)
    for i, b in enumerate(blocks):
        if i % 16:
            libc.free(b)

t = threading.Thread(target=fill)
t.start(); t.join()
before = rss_mib()
trimmed = heap.give_back()
print(trimmed, before, rss_mib())
"""


def test_give_back_returns_the_free_pages_a_thread_left_in_its_arena() -> None:
    out = subprocess.run([sys.executable, "-c", FRAGMENT], check=True, capture_output=True, text=True,
                         timeout=60).stdout.split()
    trimmed, before, after = out[0] == "True", float(out[1]), float(out[2])
    assert trimmed, "glibc has malloc_trim: this box must use it"
    assert before - after > 80, f"RSS {before:.0f} -> {after:.0f} MiB: the ~117 MiB of freed buffers stayed"
