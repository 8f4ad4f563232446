"""`make demo`: a master and three minions on 127.0.0.1 in a temporary directory.

Shows key acceptance, `pvc run` with glob, grain and compound targets, `cmd.run`, an async job
and `pvc job show`, and a few lines of `pvc event listen`; then stops everything it started
(by PID) and removes the directory.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.cluster.pvc import PvcCluster  # noqa: E402
from tests.cluster.wait import wait_for  # noqa: E402


def show(cluster: PvcCluster, *args: str) -> str:
    print(f"\n$ pvc {' '.join(shlex.quote(a) for a in args)}", flush=True)
    proc = cluster.pvc(*args)
    out = (proc.stdout + proc.stderr).rstrip()
    print(out, flush=True)
    return proc.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pvc-demo-") as tmp, PvcCluster(Path(tmp), auto_accept=False) as c:
        print(f"demo cluster in {tmp}: master on 127.0.0.1:{c.publish_port}/{c.ret_port}")
        c.start_master()
        grains = {"hv1": {"rack": "a", "role": "hypervisor"}, "hv2": {"rack": "a", "role": "hypervisor"},
                  "hv3": {"rack": "b", "role": "storage"}}
        for mid, g in grains.items():
            c.add_minion(mid, grains=g)
        pre = c.master_dir / "root" / "pki" / "master" / "minions_pre"
        wait_for(lambda: len(list(pre.iterdir())) == 3, 20, "three pending keys")
        show(c, "key", "list")
        show(c, "key", "accept", "*", "--yes")
        c.wait_connected()
        listener = subprocess.Popen(
            [sys.executable, "-m", "pvc.cli.main", "event", "listen", "-c", str(c.master_dir), "pvc/*",
             "--count", "8", "--timeout", "15"], stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        show(c, "run", "*", "test.ping")
        show(c, "run", "-G", "rack:a", "test.version")
        show(c, "run", "-C", "G@role:hypervisor and not hv2 or L@hv3", "grains.get", "rack")
        show(c, "run", "hv1", "cmd.run", "uname -sr")
        jid = show(c, "run", "--async", "*", "test.sleep", "0.2", "--out", "json").strip()
        time.sleep(1.0)
        show(c, "job", "show", jid)
        out, _ = listener.communicate(timeout=30)
        print("\n$ pvc event listen 'pvc/*'   (first lines)")
        print(out.rstrip())
        print("\ndemo done: stopping the master and the minions")


if __name__ == "__main__":
    main()
