"""Jobs end to end: a real master and three real minion processes on 127.0.0.1."""

from __future__ import annotations

import json
import time

import pytest

from tests.cluster.pvc import PvcCluster
from tests.cluster.wait import wait_for

ALL = {"m1", "m2", "db1"}


@pytest.mark.parametrize("tgt, tgt_type, expected", [
    ("*", "glob", ALL),
    ("m*", "glob", {"m1", "m2"}),
    ("m[12]|db.", "pcre", ALL),
    ("^m", "pcre", {"m1", "m2"}),
    ("m1,db1", "list", {"m1", "db1"}),
    ("role:web", "grain", {"m1", "m2"}),
    ("osfam:Red*", "grain", {"db1"}),
    ("G@role:db or L@m1", "compound", {"db1", "m1"}),
    ("m* and not G@role:db and not m2", "compound", {"m1"}),
    ("webs", "nodegroup", {"m1", "m2"}),
])
def test_every_target_type(three_minions, tgt, tgt_type, expected):
    res = three_minions.client().run(tgt, "test.ping", tgt_type=tgt_type)
    assert set(res.returns) == expected
    assert set(res.minions) == expected
    assert res.ok and not res.missing


def test_cli_json_output_and_exit_code(three_minions):
    proc = three_minions.pvc("run", "*", "test.echo", "hello", "--out", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"m1": "hello", "m2": "hello", "db1": "hello"}


def test_cli_flags_for_target_types(three_minions):
    for flags, tgt, want in ((["-L"], "m1,m2", {"m1", "m2"}), (["-G"], "role:db", {"db1"}),
                             (["-E"], "db.*", {"db1"}), (["-C"], "G@role:web and m2", {"m2"}),
                             (["-N"], "webs", {"m1", "m2"})):
        proc = three_minions.pvc("run", *flags, tgt, "test.ping", "--out", "json")
        assert proc.returncode == 0, proc.stderr
        assert set(json.loads(proc.stdout)) == want


def test_args_and_kwargs_roundtrip(three_minions):
    res = three_minions.client().run("m1", "test.arg", [1, "two", [3]], {"four": {"x": 4}})
    assert res.returns["m1"].data == {"args": [1, "two", [3]], "kwargs": {"four": {"x": 4}},
                                      "types": ["int", "str", "list"]}
    proc = three_minions.pvc("run", "m1", "test.arg", "1", "two", "three=3", "--out", "json")
    assert json.loads(proc.stdout)["m1"]["kwargs"] == {"three": 3}


def test_large_echo_returns_full_value(three_minions):
    big = "x" * (1024 * 1024)
    res = three_minions.client().run("m1", "test.echo", [big])
    assert res.returns["m1"].data == big


def test_async_then_job_show_and_list(three_minions):
    proc = three_minions.pvc("run", "--async", "*", "test.ping", "--out", "json")
    assert proc.returncode == 0, proc.stderr
    jid = proc.stdout.strip()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = three_minions.client().job(jid)
        if set(job.returns) == ALL:
            break
        time.sleep(0.1)
    assert set(job.returns) == ALL and job.fun == "test.ping"
    shown = three_minions.pvc("job", "show", jid)
    assert shown.returncode == 0 and "m1:" in shown.stdout and "test.ping" in shown.stdout
    listed = three_minions.pvc("job", "list", "--out", "json")
    assert jid in {j["jid"] for j in json.loads(listed.stdout)}


def test_batch_runs_a_sliding_window(three_minions):
    start = time.monotonic()
    proc = three_minions.pvc("run", "*", "test.sleep", "0.5", "--batch", "1", "--out", "json")
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {m: True for m in ALL}
    assert elapsed >= 1.5  # one at a time
    proc = three_minions.pvc("run", "*", "test.ping", "--batch", "50%", "--out", "json")
    assert set(json.loads(proc.stdout)) == ALL


def test_unknown_function_and_bad_args_reported_minion_keeps_running(three_minions):
    res = three_minions.client().run("m1", "nosuch.thing")
    assert not res.ok and "no module named 'nosuch'" in res.returns["m1"].error
    res = three_minions.client().run("m1", "test.sleep", [0], {"nope": 1})
    assert res.returns["m1"].error == "test.sleep(length): got an unexpected keyword argument 'nope'"
    res = three_minions.client().run("m1", "test.sleep", [])
    assert res.returns["m1"].error == "test.sleep(length): missing a required argument: 'length'"
    proc = three_minions.pvc("run", "m1", "test.nosuch")
    assert proc.returncode == 1 and "has no function 'nosuch'" in proc.stdout
    assert three_minions.client().cmd("m1", "test.ping") == {"m1": True}


def test_no_minion_matched(three_minions):
    proc = three_minions.pvc("run", "nomatch*", "test.ping")
    assert proc.returncode == 2 and "No minions matched" in proc.stderr


def test_event_listen_sees_job_events(three_minions):
    import subprocess
    import sys

    listener = subprocess.Popen(
        [sys.executable, "-m", "pvc.cli.main", "event", "listen", "-c", str(three_minions.master_dir),
         "pvc/job/*", "--out", "json", "--count", "4", "--timeout", "20"],
        stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)  # let the SUB socket connect before publishing
    res = three_minions.client().run("*", "test.ping")
    out, _ = listener.communicate(timeout=30)
    tags = [json.loads(line)["tag"] for line in out.splitlines()]
    assert f"pvc/job/{res.jid}/new" in tags
    assert sum(t.startswith(f"pvc/job/{res.jid}/ret/") for t in tags) == 3
    fired = three_minions.pvc("event", "fire", "my/tag", '{"a": 1}')
    assert fired.returncode == 0, fired.stderr


def test_stopped_and_killed_minions_listed_as_non_returners(pvc_cluster: PvcCluster):
    import os
    import signal

    c = pvc_cluster
    c.start_master()
    for mid in ("a1", "a2", "a3"):
        c.add_minion(mid)
    c.wait_connected()
    a3 = c.procs["minion-a3"]
    os.kill(a3.pid, signal.SIGSTOP)  # connected but silent: the job times out for it
    proc = c.pvc("run", "*", "test.ping", "--timeout", "1.5", "--out", "json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {"a1": True, "a2": True}
    assert "a3: no return (timed out)" in proc.stderr
    c.kill_minion("a3")  # its connections drop: the master knows it is gone at once
    time.sleep(0.5)
    proc = c.pvc("run", "*", "test.ping", "--out", "json")
    assert proc.returncode == 1 and json.loads(proc.stdout) == {"a1": True, "a2": True}
    assert "a3: no return (not connected)" in proc.stderr
    jobs = c.client().jobs(2)
    assert c.client().job(jobs[0].jid).missing == {"a3": "not connected"}
    assert c.client().job(jobs[1].jid).missing == {"a3": "timed out"}


def test_a_frozen_host_is_not_connected_once_its_transport_ttl_passed(pvc_cluster: PvcCluster):
    """A host that vanishes without a TCP reset (here: a frozen minion, whose libzmq stops
    answering too) asked the master to drop its connection after ten heartbeats without traffic
    (10 s at this cluster's 1 s); the next job then records it as not connected instead of
    waiting for it."""
    import os
    import signal

    c = pvc_cluster
    c.start_master()
    c.add_minion("f1")
    c.add_minion("f2")
    c.wait_connected()
    f2 = c.procs["minion-f2"]
    os.kill(f2.pid, signal.SIGSTOP)
    try:
        time.sleep(14.0)  # TTL 10 s, plus the ping interval and a loaded box
        proc = c.pvc("run", "*", "test.ping", "--timeout", "1.5", "--out", "json")
        assert json.loads(proc.stdout) == {"f1": True}
        assert "f2: no return (not connected)" in proc.stderr
    finally:
        os.kill(f2.pid, signal.SIGCONT)


def test_master_and_minion_restart(pvc_cluster: PvcCluster):
    c = pvc_cluster
    c.start_master()
    c.add_minion("r1")
    c.add_minion("r2")
    c.wait_connected()
    c.stop_master()
    c.start_master()
    start = time.monotonic()
    c.wait_connected(timeout=10)
    assert c.client().cmd("*", "test.ping") == {"r1": True, "r2": True}
    assert time.monotonic() - start < 5
    c.stop_minion("r2")
    c.start_minion("r2")
    c.wait_connected(timeout=10)
    assert c.client().cmd("*", "test.ping") == {"r1": True, "r2": True}


def test_master_with_postgresql_job_cache(pvc_cluster: PvcCluster, pg_dsn):
    import psycopg2

    admin = psycopg2.connect(pg_dsn)
    admin.autocommit = True
    admin.cursor().execute("CREATE DATABASE master_jobs")
    c = pvc_cluster
    c.master_options["job_cache"] = pg_dsn.rsplit("/", 1)[0] + "/master_jobs"
    c.start_master()
    c.add_minion("p1")
    c.wait_connected()
    res = c.client().run("p1", "test.echo", ["stored in postgres"])
    job = c.client().job(res.jid)
    assert job.returns["p1"].ret.data == "stored in postgres"
    rows = psycopg2.connect(c.master_options["job_cache"]).cursor()
    rows.execute("SELECT minion FROM returns WHERE jid = %s", (res.jid,))
    assert rows.fetchall() == [("p1",)]


def test_channel_port_admits_only_authenticated_minions(three_minions):
    """A plain peer, and a CURVE peer whose key no auth registered, never complete the
    handshake on the channel port (which now carries publications too): they receive nothing,
    not even a broadcast job's ciphertext, and what they send never reaches the master."""
    import zmq

    from pvc.crypto import Ed25519PrivateKey, curve_keypair
    from pvc.keys import load_or_create_identity

    master_key = load_or_create_identity(str(three_minions.master_dir / "root" / "pki" / "master"), "master")
    _, master_curve = curve_keypair(master_key)
    stranger_secret, stranger_pub = curve_keypair(Ed25519PrivateKey.generate())
    plain = zmq.Context.instance().socket(zmq.DEALER)
    curve = zmq.Context.instance().socket(zmq.DEALER)
    curve.setsockopt(zmq.CURVE_SERVERKEY, master_curve)
    curve.setsockopt(zmq.CURVE_PUBLICKEY, stranger_pub)
    curve.setsockopt(zmq.CURVE_SECRETKEY, stranger_secret)
    for peer in (plain, curve):
        peer.setsockopt(zmq.LINGER, 0)
        peer.connect(f"tcp://127.0.0.1:{three_minions.channel_port}")
        peer.send(b"\x80", zmq.NOBLOCK)  # queued: it leaves only if a handshake completes
    time.sleep(0.5)
    try:
        for _ in range(3):
            assert three_minions.client().run("*", "test.ping").ok
        assert plain.poll(300) == 0 and curve.poll(300) == 0
    finally:
        plain.close(0)
        curve.close(0)


def test_minion_start_and_stop_events(three_minions):
    import subprocess
    import sys

    listener = subprocess.Popen(
        [sys.executable, "-m", "pvc.cli.main", "event", "listen", "-c", str(three_minions.master_dir),
         "pvc/*", "--out", "json", "--count", "3", "--timeout", "30"], stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    three_minions.add_minion("ev1")
    three_minions.wait_connected(["ev1"])
    three_minions.stop_minion("ev1")
    three_minions.minion_ids.remove("ev1")
    assert three_minions.pvc("key", "delete", "ev1", "--yes").returncode == 0  # leave the cluster as found
    out, _ = listener.communicate(timeout=40)
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["tag"] for e in events] == ["pvc/auth", "pvc/minion/ev1/start", "pvc/minion/ev1/stop"]
    assert events[0]["data"] == {"id": "ev1", "status": "accepted"}


def test_return_is_stored_before_it_is_acked(pvc_cluster: PvcCluster):
    """Lock the job cache (a real fault): the master cannot store, so it does not ack; the
    minion resends, and once the lock is gone the return is stored and delivered."""
    import sqlite3

    c = pvc_cluster
    c.start_master()
    c.add_minion("s1")
    c.wait_connected()
    db = c.master_dir / "root" / "cache" / "master" / "jobs.sqlite"
    stream = c.client().iter_run("s1", "test.sleep", [1.0], timeout=20)  # the job record is stored
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # before the return comes
    time.sleep(2.5)  # the master tried, failed, did not ack
    lock.execute("COMMIT")
    lock.close()
    returns = dict(stream)
    assert returns["s1"].ok
    assert c.client().job(stream.result.jid).returns["s1"].ret.ok
    log = (c.root / "master.out").read_text()
    assert "not acknowledged (minions will resend)" in log


def test_job_outliving_the_wait_is_still_running_not_timed_out(three_minions):
    """The wait ends while the minions are alive and say they run the job: the CLI prints the
    jid and how to follow it; the returns are stored when they come. (The master knows a job runs
    from the minion's heartbeats: its regular one, or the one it sends at half the job's timeout.)"""
    proc = three_minions.pvc("run", "m1", "test.sleep", "3.5", "--timeout", "2")
    assert proc.returncode == 1
    assert "m1: still running" in proc.stderr and "pvc job show" in proc.stderr, proc.stderr
    jid = proc.stderr.split("Job ", 1)[1].split()[0]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "m1" not in three_minions.client().job(jid).returns:
        time.sleep(0.2)
    assert three_minions.client().job(jid).returns["m1"].ret.ok


def test_a_slow_beating_minion_says_a_long_job_runs_before_its_deadline(pvc_cluster: PvcCluster):
    """A minion that beats every 30 s (a fleet of 10,000 is asked to beat every 40 s) still tells
    the master, at half the job's timeout, that it runs the job: 'still running', not 'timed out'."""
    c = pvc_cluster
    c.start_master()
    c.add_minion("slow", heartbeat=30.0)
    c.wait_connected()
    proc = c.pvc("run", "slow", "test.sleep", "3", "--timeout", "1.5")
    assert proc.returncode == 1
    assert "slow: still running" in proc.stderr, proc.stderr


def test_job_active_and_kill_end_a_process_tree(three_minions):
    """`pvc job active` lists what runs where; `pvc job kill` ends a cmd.run's whole process
    tree on the minion, and its return says it was killed."""
    c = three_minions
    jid = c.client().run_async("m1", "cmd.run", ["sleep 30; echo never"], {"python_shell": True}, timeout=60)
    wait_for(lambda: any(r.jid == jid for r in c.client().active("m1")), 10, "the job listed as active")
    listed = c.pvc("job", "active", "--out", "json")
    assert listed.returncode == 0 and jid in listed.stdout and "cmd.run" in listed.stdout
    proc = c.pvc("job", "kill", jid)
    assert proc.returncode == 0 and "m1" in proc.stdout, proc.stderr
    wait_for(lambda: "m1" in c.client().job(jid).returns, 10, "the killed job's return")
    ret = c.client().job(jid).returns["m1"].ret
    assert not ret.ok and "killed by operator" in ret.error
    wait_for(lambda: not any(r.jid == jid for r in c.client().active("m1")), 5, "the next heartbeat without it")
