"""A backend that is down or missing is a clear error in the return, and the minion keeps
serving other jobs (through a real master and minion)."""

from __future__ import annotations

import json


def test_down_backends_are_clear_errors(pvc_cluster, tmp_path):
    c = pvc_cluster
    (tmp_path / "ceph.conf").write_text("[global]\nmon host = 127.0.0.1:1\n")
    c.start_master()
    c.add_minion("lonely", modules={
        "virt": {"uri": "qemu+unix:///system?socket=/nonexistent/libvirt-sock", "events": False},
        "ceph": {"conf": str(tmp_path / "ceph.conf"), "timeout": 1},
    })
    c.wait_connected()
    for fun, message in (("virt.list", "libvirt: cannot connect to qemu+unix:///system?socket=/nonexistent"),
                         ("ceph.pool_list", "ceph: cannot reach cluster via")):
        proc = c.pvc("run", "lonely", fun, "--out", "json", "--timeout", "20")
        assert proc.returncode == 1
        out = json.loads(proc.stdout)["lonely"]
        assert out.startswith("ERROR: ") and message in out and "Traceback" not in out
    assert c.client().cmd("lonely", "test.ping") == {"lonely": True}
