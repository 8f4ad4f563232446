"""The lab's guest: Debian's kernel + a busybox initramfs whose /init prints ``tick N`` each second.

A guest that really executes (under TCG: this nested host hangs the kernel under KVM) shows on
its serial log that it keeps running through a live migration: one uninterrupted tick sequence.
Nothing is installed and no binary is committed: the two packages are downloaded with
``apt-get download`` and unpacked into a cache shared with the test fixtures (:data:`CACHE`),
once per machine (~72 MB, a few seconds).

Example::

    kernel, initrd = ensure()
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

from pvc.lab.errors import LabError

CACHE = Path(os.environ.get("PVC_GUEST_KERNEL_CACHE", "/var/tmp/pvc-guest-kernel"))
TICKER = b"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
echo GUEST-UP
i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done
"""


def ensure() -> tuple[Path, Path]:
    """(vmlinuz, initrd.gz), built into :data:`CACHE` on first use."""
    kernel, initrd = CACHE / "vmlinuz", CACHE / "initrd.gz"
    if kernel.exists() and initrd.exists():
        return kernel, initrd
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        work = Path(tmp)
        package = _kernel_package()
        _run(["apt-get", "download", "-q", package, "busybox-static"], cwd=work)
        vmlinuz = _member(next(work.glob(f"{package}_*.deb")), "boot/vmlinuz-")
        busybox = _member(next(work.glob("busybox-static_*.deb")), "bin/busybox")
        (work / "initrd.gz").write_bytes(_initramfs(busybox))
        (work / "vmlinuz").write_bytes(vmlinuz)
        os.replace(work / "initrd.gz", initrd)
        os.replace(work / "vmlinuz", kernel)
    return kernel, initrd


def _run(argv: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(argv, check=False, cwd=cwd, capture_output=True, timeout=300)
    if proc.returncode != 0:
        raise LabError(f"guest kernel: {' '.join(argv)} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode(errors="replace")


def _kernel_package() -> str:
    for line in _run(["apt-cache", "depends", "linux-image-amd64"]).splitlines():
        if line.strip().startswith("Depends: linux-image-"):
            return line.split()[1]
    raise LabError("guest kernel: apt-cache knows no linux-image-amd64 dependency (apt-get update?)")


def _member(deb: Path, prefix: str) -> bytes:
    """The first file in ``deb`` whose path starts with ``prefix``."""
    proc = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, timeout=120, check=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.lstrip("./").startswith(prefix):
                fh = tar.extractfile(member)
                if fh is not None:
                    return fh.read()
    raise LabError(f"guest kernel: no {prefix}* in {deb.name}")


def _initramfs(busybox: bytes) -> bytes:
    """A gzip'd newc cpio: the console devices, /bin/busybox and /init (the tick loop)."""
    entries = (("bin", stat.S_IFDIR | 0o755, b"", 0, 0), ("dev", stat.S_IFDIR | 0o755, b"", 0, 0),
               ("dev/console", stat.S_IFCHR | 0o600, b"", 5, 1), ("dev/ttyS0", stat.S_IFCHR | 0o600, b"", 4, 64),
               ("bin/busybox", stat.S_IFREG | 0o755, busybox, 0, 0), ("init", stat.S_IFREG | 0o755, TICKER, 0, 0),
               ("TRAILER!!!", 0, b"", 0, 0))
    archive = bytearray()
    for inode, (name, mode, data, major, minor) in enumerate(entries, start=1):
        header = (inode, mode, 0, 0, 1, 0, len(data), 0, 0, major, minor, len(name) + 1, 0)
        archive += _aligned(b"070701" + b"".join(b"%08X" % v for v in header) + name.encode() + b"\0")
        archive += _aligned(data)
    return gzip.compress(bytes(archive))


def _aligned(chunk: bytes) -> bytes:
    return chunk + bytes(-len(chunk) % 4)
