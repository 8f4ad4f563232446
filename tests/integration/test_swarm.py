"""`pvc minion --swarm N`: N identities in one process, each from its own source address."""

from __future__ import annotations

import os
import subprocess

from pvc.minion.daemon import fds_needed
from tests.cluster.pvc import PvcCluster


def test_a_swarm_connects_each_identity_from_its_own_address(tmp_path) -> None:
    """With ``source_address``, identity n connects from that address + n: to the master's
    per-address limits the swarm looks like N hosts, as a real fleet does."""
    with PvcCluster(tmp_path) as c:
        c.start_master()
        c.add_minion("sw", swarm=20, source_address="127.30.0.1")
        c.minion_ids = [f"sw-{n:04d}" for n in range(20)]
        c.wait_connected(timeout=60)
        res = c.client().run("sw-*", "test.ping")
        assert res.ok and set(res.returns) == set(c.minion_ids)
        ss = subprocess.run(["ss", "-Htn", "state", "established", f"( dport = :{c.channel_port} )"],
                            capture_output=True, text=True, check=True).stdout
        sources = {line.split()[-2].rsplit(":", 1)[0] for line in ss.splitlines() if line.strip()}
        assert sources == {f"127.30.0.{n}" for n in range(1, 21)}, sources


def test_a_source_address_that_is_not_an_address_is_a_one_line_error(tmp_path) -> None:
    with PvcCluster(tmp_path) as c:
        d = c.add_minion("bad", start=False, source_address="eth0")
        proc = c.pvc("minion", "-c", str(d), timeout=30)
        assert proc.returncode != 0
        assert "option 'source_address' must be an IP address, not 'eth0'" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_a_swarm_holds_no_more_descriptors_than_it_asks_for(tmp_path) -> None:
    """The open-file limit a swarm process raises itself to (``fds_needed``) covers what it
    holds once every identity is connected, and again after a master restart (old channels
    closed, new ones open). At 2,500 identities it asked for 30,256 while holding ~12,500: above
    a 20,000 hard limit, so every run warned of a shortage that was not there."""
    n = 60
    with PvcCluster(tmp_path) as c:
        c.start_master()
        c.add_minion("fd", swarm=n, source_address="127.32.0.1")
        c.minion_ids = [f"fd-{k:04d}" for k in range(n)]
        c.wait_connected(timeout=60)
        pid = c.procs["minion-fd"].pid
        held = [len(os.listdir(f"/proc/{pid}/fd"))]
        c.stop_master()
        c.start_master()
        c.wait_connected(timeout=90)
        held.append(len(os.listdir(f"/proc/{pid}/fd")))
        assert max(held) <= fds_needed(n), (held, fds_needed(n))
        assert max(held) >= 5 * n  # what the estimate is for: the identities' own, not the base
    assert fds_needed(2500) <= 20_000  # a bench swarm process fits a common hard limit (this box's)
