"""A small tmpfs of a test's own, so a disk beacon's threshold can really be crossed: filling a
1 MiB file system takes a millisecond, filling the machine's disk would not do."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_tmpfs(path: Path, size_kib: int = 1024) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "pvc-test-tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs at {path}: {done.stderr.strip()}")
    try:
        yield path
    finally:
        for child in path.iterdir():
            child.unlink()
        subprocess.run(["umount", str(path)], check=True)


def fill(path: Path, kib: int) -> Path:
    """A file of ``kib`` KiB in ``path``."""
    out = path / "fill"
    out.write_bytes(b"\0" * kib * 1024)
    return out
