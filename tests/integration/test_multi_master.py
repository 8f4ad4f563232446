"""A minion serves several masters (``master: [a, b]``): each master's jobs are answered to
that master, either master keeps working while the other is down, and both buses hear the
minion's events. The masters share one identity key (copied, as with Salt's multi-master)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.cluster.pvc import PvcCluster
from tests.cluster.wait import wait_for


@contextmanager
def two_masters(tmp_path: Path, minion: str, **options: Any) -> Iterator[tuple[PvcCluster, PvcCluster]]:
    """Masters a and b sharing one key pair (``options`` go to both PvcClusters), and a
    minion serving both; yields once the minion is connected to both (or, without
    auto_accept, once it has started)."""
    with PvcCluster(tmp_path / "a", **options) as a, PvcCluster(tmp_path / "b", **options) as b:
        a.start_master()
        a.stop_master()  # made its identity; b gets the same key before it first starts
        shutil.copytree(a.master_dir / "root" / "pki" / "master", b.master_dir / "root" / "pki" / "master",
                        ignore=shutil.ignore_patterns("minions*"))
        a.start_master()
        b.start_master()
        a.add_minion(minion, master=[f"127.0.0.1:{a.ret_port}", f"127.0.0.1:{b.ret_port}"])
        b.minion_ids.append(minion)
        if a.auto_accept:
            a.wait_connected([minion])
            b.wait_connected([minion])
        yield a, b


def test_minion_serves_two_masters(tmp_path):
    with two_masters(tmp_path, "mm1") as (a, b):
        assert a.client().cmd("mm1", "test.echo", ["via a"]) == {"mm1": "via a"}
        assert b.client().cmd("*", "test.echo", ["via b"]) == {"mm1": "via b"}
        a.stop_master()
        assert b.client().cmd("*", "test.ping") == {"mm1": True}  # b keeps working alone
        a.start_master()
        a.wait_connected(["mm1"])
        assert a.client().cmd("*", "test.ping") == {"mm1": True}
        # each job is stored by the master that published it, once
        assert len(a.client().jobs(10)) == 2 and len(b.client().jobs(10)) == 2


def test_the_cli_falls_back_to_another_running_master(tmp_path):
    """`pvc -c A run` while master A is SIGKILLed goes through B (its ``fallback_masters``),
    saying so on stderr; with every master down it fails with one clear line."""
    import json

    import yaml

    with two_masters(tmp_path, "fb1") as (a, b):
        config = a.master_dir / "master"
        config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()),
                                          "fallback_masters": [str(b.master_dir)]}))
        a.kill_master()
        run = a.pvc("run", "*", "test.ping", "--out", "json")
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout) == {"fb1": True}
        assert f"using the master of {b.master_dir}" in run.stderr
        b.stop_master()
        run = a.pvc("run", "*", "test.ping")
        assert run.returncode != 0
        assert "no master is running" in run.stderr and "Traceback" not in run.stderr


def test_a_return_outlives_its_master_through_another_sharing_the_job_cache(tmp_path, pg_dsn):
    """Master a publishes, then dies before the return: after a while the minion offers the
    return to master b, which shares a's PostgreSQL job cache, and b stores it (once)."""
    import uuid

    import psycopg2

    schema_db = f"pvc_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(pg_dsn)
    conn.autocommit = True
    conn.cursor().execute(f"CREATE DATABASE {schema_db}")
    conn.close()
    shared = pg_dsn.rsplit("/", 1)[0] + f"/{schema_db}"
    with two_masters(tmp_path, "mm2", master_options={"job_cache": shared}) as (a, b):
        jid = a.client().run_async("mm2", "test.sleep", [1.0], timeout=60)
        a.drop_client()
        master = a.procs.pop("master")
        master.kill()  # before the return
        master.wait(5)
        wait_for(lambda: "mm2" in b.client().job(jid).returns, 40, "the return stored through master b")
        assert b.client().job(jid).returns["mm2"].ret.ok


def test_a_key_accepted_on_one_master_is_accepted_on_every_master(tmp_path, zk_hosts, zk_root, cluster_store):
    """Masters of one cluster (cluster: in their configs) mirror minion keys through ZooKeeper:
    `pvc key accept` on master a lets the minion in on master b too, and a delete on b reaches a."""
    section = {"zookeeper": zk_hosts, "root": zk_root, "session_timeout": 2.0}
    with two_masters(tmp_path, "km1", auto_accept=False, master_options={"cluster": section}) as (a, b):
        a.accept("km1")  # on master a only
        a.wait_connected(["km1"])
        b.wait_connected(["km1"], timeout=20)  # b learnt it from the cluster
        assert b.client().cmd("km1", "test.ping") == {"km1": True}
        assert b.pvc("key", "delete", "km1", "--yes").returncode == 0  # and back: deleted everywhere
        pre = a.master_dir / "root" / "pki" / "master"
        wait_for(lambda: not (pre / "minions" / "km1").exists(), 15, "the delete mirrored to master a")
