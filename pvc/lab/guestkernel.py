"""The lab's guest: Debian's kernel + a busybox initramfs whose /init prints ``tick N`` each second.

A guest that really executes (under TCG: this nested host hangs the kernel under KVM) shows on
its serial log that it keeps running through a live migration: one uninterrupted tick sequence.
A guest with a disk (``vda``: an RBD image in a lab with Ceph) also writes its tick to the disk's
first sector each second, from a background loop (a stalled disk never stalls the ticks): the
first write makes the guest's librbd take the image's exclusive lock, as a real VM's does, so
migration hands the lock over and fencing has a lock to break. The initramfs carries the
kernel's virtio-blk modules for that (Debian builds them as modules).
Nothing is installed and no binary is committed: the two packages are downloaded with
``apt-get download`` and unpacked into a cache shared with the test fixtures (:data:`CACHE`),
once per machine and recipe (~72 MB, a few seconds): kernel and modules always come from the
same package.

Example::

    kernel, initrd = ensure()
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import subprocess
import tarfile
import tempfile
from pathlib import Path

from pvc.lab.errors import LabError

CACHE = Path(os.environ.get("PVC_GUEST_KERNEL_CACHE", "/var/tmp/pvc-guest-kernel"))
# virtio-blk and what it needs, in load order (paths under lib/modules/<version>/kernel/)
MODULES = ("drivers/virtio/virtio_ring.ko", "drivers/virtio/virtio.ko", "drivers/virtio/virtio_pci_legacy_dev.ko",
           "drivers/virtio/virtio_pci_modern_dev.ko", "drivers/virtio/virtio_pci.ko", "drivers/block/virtio_blk.ko")
TICKER = b"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
mount -t devtmpfs devtmpfs /dev
for m in /lib/modules/*.ko; do insmod $m 2>/dev/null; done
echo GUEST-UP
if [ -b /dev/vda ]; then
  echo DISK vda
  (j=0; while true; do echo disk tick $j | dd of=/dev/vda conv=fsync 2>/dev/null; j=$((j+1)); sleep 1; done) &
fi
i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done
"""
RECIPE = hashlib.sha256(TICKER + "\n".join(MODULES).encode()).hexdigest()[:12]


def ensure() -> tuple[Path, Path]:
    """(vmlinuz, initrd.gz), built into ``CACHE/<recipe>`` on first use."""
    home = CACHE / RECIPE
    kernel, initrd = home / "vmlinuz", home / "initrd.gz"
    if kernel.exists() and initrd.exists():
        return kernel, initrd
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home) as tmp:
        work = Path(tmp)
        package = _kernel_package()
        _run(["apt-get", "download", "-q", package, "busybox-static"], cwd=work)
        vmlinuz, *modules = _members(next(work.glob(f"{package}_*.deb")), ("boot/vmlinuz-", ""),
                                     *[("lib/modules/", f"/kernel/{m}") for m in MODULES])
        (busybox,) = _members(next(work.glob("busybox-static_*.deb")), ("bin/busybox", ""))
        (work / "initrd.gz").write_bytes(_initramfs(busybox, [(m.rsplit("/", 1)[1], data)
                                                              for m, data in zip(MODULES, modules, strict=True)]))
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


def _members(deb: Path, *patterns: tuple[str, str]) -> list[bytes]:
    """For each (prefix, suffix), the first file in ``deb`` whose path has them."""
    proc = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, timeout=120, check=True)
    found: dict[tuple[str, str], bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        for member in tar.getmembers():
            name = member.name.lstrip("./")
            for prefix, suffix in patterns:
                if member.isfile() and name.startswith(prefix) and name.endswith(suffix) \
                        and (prefix, suffix) not in found and (fh := tar.extractfile(member)) is not None:
                    found[(prefix, suffix)] = fh.read()
    missing = [f"{p}*{s}" for p, s in patterns if (p, s) not in found]
    if missing:
        raise LabError(f"guest kernel: no {', '.join(missing)} in {deb.name}")
    return [found[p] for p in patterns]


def _initramfs(busybox: bytes, modules: list[tuple[str, bytes]]) -> bytes:
    """A gzip'd newc cpio: the console devices, /bin/busybox, the kernel ``modules`` (named
    ``lib/modules/NN-name.ko``, so the shell's glob loads them in order) and /init (the tick loop)."""
    ordered = [(f"lib/modules/{i:02d}-{name}", stat.S_IFREG | 0o644, data, 0, 0)
               for i, (name, data) in enumerate(modules)]
    entries = (("bin", stat.S_IFDIR | 0o755, b"", 0, 0), ("dev", stat.S_IFDIR | 0o755, b"", 0, 0),
               ("dev/console", stat.S_IFCHR | 0o600, b"", 5, 1), ("dev/ttyS0", stat.S_IFCHR | 0o600, b"", 4, 64),
               ("lib", stat.S_IFDIR | 0o755, b"", 0, 0), ("lib/modules", stat.S_IFDIR | 0o755, b"", 0, 0),
               *ordered,
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
