"""An idle plain minion runs on every node, so what it maps stays small: a real minion, after
serving jobs, has none of the heavy native libraries mapped (the benchmark measures the RSS;
this says which library came back if it grows)."""

from __future__ import annotations

from pathlib import Path

# native code a plain minion must never load: OpenSSL-in-Rust (`cryptography`, ~7 MiB
# resident), libvirt, YAML's C loader, kazoo's deps, Ceph; `pvc minion` execs into a lean image
HEAVY = ("cryptography", "libvirt", "_yaml", "rados", "rbd", "jinja2", "markupsafe", "_ssl", "_hashlib")


def mapped_files(pid: int) -> set[str]:
    paths = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5].startswith("/"):
            paths.add(parts[5])
    return paths


def test_idle_plain_minion_maps_no_heavy_native_library(pvc_cluster) -> None:
    pvc_cluster.start_master()
    pvc_cluster.add_minion("lean1")
    pvc_cluster.wait_connected(["lean1"])
    assert pvc_cluster.client().cmd("lean1", "test.ping") == {"lean1": True}
    mapped = mapped_files(pvc_cluster.procs["minion-lean1"].pid)
    heavy = sorted(p for p in mapped if any(h in Path(p).name or f"/{h}/" in p for h in HEAVY))
    assert heavy == []
    assert any("sodium" in Path(p).name for p in mapped)  # the crypto it does use: libsodium
