"""Issue 15: jobs that hang do not take a node out of service. Real master and minion."""

from __future__ import annotations

import time

from tests.cluster.pvc import PvcCluster
from tests.cluster.wait import wait_for


def test_fifty_hung_jobs_starve_nothing_and_can_be_killed(pvc_cluster: PvcCluster):
    c = pvc_cluster
    c.start_master()
    c.add_minion("h1")
    c.wait_connected()
    client = c.client()
    hung = [client.run_async("h1", "cmd.run", ["sleep 30"], {"python_shell": True}, timeout=60) for _ in range(25)]
    hung += [client.run_async("h1", "test.sleep", [30], timeout=60) for _ in range(25)]
    wait_for(lambda: len(client.active("h1")) >= 50, 15, "50 jobs running on h1")
    for fun in ("test.ping", "sys.list_functions", "grains.items", "cmd.run"):  # general and cluster lanes
        start = time.monotonic()
        args = ["echo hi"] if fun == "cmd.run" else []
        res = client.run("h1", fun, args, timeout=5)
        assert res.ok and time.monotonic() - start < 1.0, (fun, res.missing, res.returns)
    assert client.cmd("h1", "cmd.run", ["echo hi"]) == {"h1": "hi"}
    for jid in hung:
        assert client.kill(jid) == ["h1"]
    wait_for(lambda: all("h1" in client.job(jid).returns for jid in hung), 20, "every hung job ended")
    errors = {client.job(jid).returns["h1"].ret.error.split(":")[0] for jid in hung}
    assert any("killed by operator" in e for e in errors), errors
