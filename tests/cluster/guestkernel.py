"""A tiny guest that really runs: Debian's kernel + a busybox initramfs printing ``tick N`` each second.

Tests boot it under TCG (``type: qemu``; this nested host hangs the kernel under KVM) to show a
live-migrated guest keeps executing: one serial log, one uninterrupted tick sequence. Built once
into a cache directory at test time (packages are downloaded and unpacked, never installed;
about 72 MB, a few seconds) — no binary is committed.

Example::

    kernel, initrd = guest_kernel()
    spec = {"name": "tick", "type": "qemu", "memory": 128, "kernel": str(kernel), "initrd": str(initrd)}
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import subprocess
import tarfile
import tempfile
from pathlib import Path

CACHE = Path(os.environ.get("PVC_GUEST_KERNEL_CACHE", "/var/tmp/pvc-guest-kernel"))
INIT = b"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
echo GUEST-UP
i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done
"""


def guest_kernel() -> tuple[Path, Path]:
    """Paths of (vmlinuz, initrd.gz), building them into ``CACHE`` on first use."""
    kernel, initrd = CACHE / "vmlinuz", CACHE / "initrd.gz"
    if kernel.exists() and initrd.exists():
        return kernel, initrd
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        work = Path(tmp)
        kpkg = _kernel_package()
        subprocess.run(["apt-get", "download", "-q", kpkg, "busybox-static"], cwd=work, check=True,
                       capture_output=True, timeout=300)
        _extract(work, next(work.glob(f"{kpkg}_*.deb")), "boot/vmlinuz-")
        _extract(work, next(work.glob("busybox-static_*.deb")), "bin/busybox")
        busybox = next(work.glob("x/bin/busybox")).read_bytes()
        (work / "initrd.gz").write_bytes(initramfs(busybox))
        os.replace(next(work.glob("x/boot/vmlinuz-*")), kernel)
        os.replace(work / "initrd.gz", initrd)
    return kernel, initrd


def _kernel_package() -> str:
    out = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], check=True, capture_output=True,
                         text=True, timeout=60).stdout
    return next(line.split()[1] for line in out.splitlines() if line.strip().startswith("Depends: linux-image-"))


def _extract(work: Path, deb: Path, member_prefix: str) -> None:
    """Unpack the members of ``deb`` whose path starts with ``member_prefix`` into ``work/x``."""
    data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True,
                          timeout=120).stdout
    deb.unlink()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = [m for m in tar.getmembers() if m.name.lstrip("./").startswith(member_prefix) and m.isfile()]
        tar.extractall(work / "x", members=members, filter="data")


def initramfs(busybox: bytes) -> bytes:
    """A gzip'd newc cpio archive: /init (the tick loop), /bin/busybox and the console devices."""
    entries = [("bin", stat.S_IFDIR | 0o755, b"", (0, 0)), ("dev", stat.S_IFDIR | 0o755, b"", (0, 0)),
               ("dev/console", stat.S_IFCHR | 0o600, b"", (5, 1)), ("dev/ttyS0", stat.S_IFCHR | 0o600, b"", (4, 64)),
               ("bin/busybox", stat.S_IFREG | 0o755, busybox, (0, 0)), ("init", stat.S_IFREG | 0o755, INIT, (0, 0)),
               ("TRAILER!!!", 0, b"", (0, 0))]
    out = bytearray()
    for ino, (name, mode, data, (major, minor)) in enumerate(entries, start=1):
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, major, minor, len(name) + 1, 0)
        out += _pad(b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0")
        out += _pad(data)
    return gzip.compress(bytes(out))


def _pad(chunk: bytes) -> bytes:
    return chunk + b"\0" * (-len(chunk) % 4)
