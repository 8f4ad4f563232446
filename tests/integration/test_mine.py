"""The mine through a real master and two real minions: m1's mine_functions reach the master at
start and m2's template reads them with salt['mine.get'](...); an interval re-runs them;
allow_tgt hides an entry; send/delete/flush; the bounds refuse and keep the older data; a master
restart or a SIGKILL keeps everything (m1 does not send again within its interval); a hostile minion writes
only its own entries, gets errors for hostile targets, and its data goes with its key."""

from __future__ import annotations

import os
import time

import pytest

from pvc.wire.mine import MineData, MineEntry, MineGet, MineUpdate
from tests.cluster.pvc import PvcCluster
from tests.cluster.rogue import RogueMinion

PEERS = """{% set peers = salt['mine.get']('m1', 'grains.items') %}
{% set addrs = salt['mine.get']('role:hv', 'addrs', tgt_type='grain') %}
peers:
  file.managed:
    - name: {{ out }}/peers-{{ grains.id }}
    - makedirs: true
    - contents: "m1 role={{ peers['m1']['role'] }} addrs={{ addrs['m1'] | join(',') }}"
"""
M1_MINE = {"grains.items": [],
           "addrs": {"mine_function": "grains.get", "key": "ipv4"},
           "secret": [{"mine_function": "test.echo"}, "hush", {"allow_tgt": "m1"}]}
M2_MINE = {"stamp": {"mine_function": "cmd.run", "cmd": "date +%s%N"}}
MINION_MAX = 8192


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("mine")
    salt, out = root / "srv" / "salt", root / "out"
    salt.mkdir(parents=True)
    (salt / "peers.sls").write_text(PEERS.replace("{{ out }}", str(out)))
    with PvcCluster(root, master_options={"file_roots": {"base": [str(salt)]}, "pillar_roots": {"base": []},
                                          "mine_minion_max_bytes": MINION_MAX}) as c:
        c.start_master()
        # m1 sends once at start (its interval is an hour); m2 every 3 s
        c.add_minion("m1", grains={"role": "hv", "ipv4": ["10.0.0.11", "10.1.0.11"]}, mine_functions=M1_MINE)
        c.add_minion("m2", grains={"role": "web"}, mine_functions=M2_MINE, mine_interval=0.05)
        c.wait_connected(["m1", "m2"])
        c.out = out  # type: ignore[attr-defined]
        yield c


def run(c: PvcCluster, mid: str, fun: str, *args, **kwargs):
    return c.client().run([mid], fun, list(args), kwargs, timeout=30).returns[mid]


def mine_get(c: PvcCluster, asker: str, tgt: str, fun: str, **kwargs) -> dict:
    ret = run(c, asker, "mine.get", tgt, fun, **kwargs)
    assert ret.ok, ret.error
    return ret.data


def wait_mine(c: PvcCluster, asker: str, tgt: str, fun: str, until, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        data = mine_get(c, asker, tgt, fun)
        if until(data) or time.monotonic() > deadline:
            return data
        time.sleep(0.3)


def test_m2s_template_reads_m1s_mine(cluster):
    got = wait_mine(cluster, "m2", "m1", "grains.items", lambda d: "m1" in d)
    assert got["m1"]["role"] == "hv" and got["m1"]["id"] == "m1"
    ret = run(cluster, "m2", "state.apply", mods="peers")
    assert ret.ok and all(v["result"] is True for v in ret.data.values()), ret
    assert (cluster.out / "peers-m2").read_text() == "m1 role=hv addrs=10.0.0.11,10.1.0.11\n"
    assert mine_get(cluster, "m1", "m*", "grains.items,addrs") == {
        "grains.items": {"m1": got["m1"]}, "addrs": {"m1": ["10.0.0.11", "10.1.0.11"]}}


def test_interval_reruns_and_allow_tgt_hides(cluster):
    first = wait_mine(cluster, "m1", "m2", "stamp", lambda d: "m2" in d)["m2"]
    later = wait_mine(cluster, "m1", "m2", "stamp", lambda d: d.get("m2") != first)["m2"]
    assert later != first and int(later) > int(first)
    wait_mine(cluster, "m1", "m1", "secret", lambda d: "m1" in d)
    assert mine_get(cluster, "m1", "*", "secret") == {"m1": "hush"}
    assert mine_get(cluster, "m2", "*", "secret") == {}
    valid = run(cluster, "m1", "mine.valid").data
    assert valid["secret"] == {"mine_function": "test.echo", "args": ["hush"], "kwargs": {},
                               "allow_tgt": "m1", "allow_tgt_type": "glob"}


def test_send_delete_flush_and_the_bound(cluster):
    assert run(cluster, "m1", "mine.send", "extra", mine_function="test.echo", text="x").data is True
    assert mine_get(cluster, "m2", "m1", "extra") == {"m1": "x"}
    too_big = run(cluster, "m1", "mine.send", "extra", mine_function="test.echo", text="y" * MINION_MAX)
    assert not too_big.ok and f"more than the {MINION_MAX}" in too_big.error
    assert mine_get(cluster, "m2", "m1", "extra") == {"m1": "x"}  # the older data stays
    assert run(cluster, "m1", "mine.delete", "extra").data is True
    assert mine_get(cluster, "m2", "m1", "extra") == {}
    assert "m1" in mine_get(cluster, "m2", "m1", "grains.items")


@pytest.mark.parametrize("stop", ["stop_master", "kill_master"])
def test_a_master_restart_or_crash_keeps_the_mine(cluster, stop):
    wait_mine(cluster, "m2", "m1", "grains.items", lambda d: "m1" in d)
    assert run(cluster, "m1", "mine.send", "last", mine_function="test.echo", text=stop).ok
    getattr(cluster, stop)()  # kill_master: SIGKILL right after the answer
    cluster.start_master()
    cluster.wait_connected(["m1", "m2"])
    # m1 sends again only in an hour: what m2 reads came back from the master's disk
    assert mine_get(cluster, "m2", "m1", "grains.items")["m1"]["role"] == "hv"
    assert mine_get(cluster, "m2", "m1", "addrs") == {"m1": ["10.0.0.11", "10.1.0.11"]}
    assert mine_get(cluster, "m2", "m1", "last") == {"m1": stop}


def test_pvc_call_has_no_mine(cluster):
    proc = cluster.pvc("call", "-c", str(cluster.minion_dir("m1")), "mine.get", "*", "grains.items")
    assert proc.returncode != 0 and "pvc call runs without one" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_a_hostile_minion_writes_only_its_own_and_leaves_with_its_key(cluster):
    evil = RogueMinion(cluster, f"evil{os.urandom(3).hex()}")
    try:
        assert evil.auth() == "accepted"
        hostile_writes_and_reads(cluster, evil)
    finally:
        evil.close()


def hostile_writes_and_reads(cluster: PvcCluster, evil: RogueMinion) -> None:
    assert evil.answer(MineUpdate(1, [MineEntry("grains.items", {"role": "hv", "forged": True})]), MineData) == MineData(1)
    # a box claiming to be m1's from evil's connection is refused: m1's entry stays m1's
    evil.send_channel(evil.seal_plain({"t": "mine_update", "rid": 2, "entries": [
        {"fun": "grains.items", "data": {"forged": True}}]}, mid="m1"))
    evil.send_plain({"t": "mine_update", "rid": 3, "entries": "not a list"})       # dropped at decoding
    evil.send_plain({"t": "mine_get", "rid": 4, "tgt": "*", "funs": ["x"] * 1000})  # too many: dropped
    assert not any(isinstance(r, MineData) and r.rid in (2, 3, 4) for r in evil.drain_down(1.0))
    seen = mine_get(cluster, "m2", "*", "grains.items")
    assert seen[evil.mid] == {"role": "hv", "forged": True} and "forged" not in seen["m1"]
    for tgt, tgt_type in (("(" * 200 + "m1", "compound"), ("x", "nonsense"), ("[", "pcre")):
        assert evil.answer(MineGet(5, tgt, tgt_type, ["grains.items"]), MineData).error
    assert cluster.procs["master"].poll() is None
    assert cluster.pvc("key", "delete", evil.mid, "--yes").returncode == 0
    assert evil.mid not in wait_mine(cluster, "m2", "*", "grains.items", lambda d: evil.mid not in d)
    assert cluster.client().cmd(["m1", "m2"], "test.ping", timeout=5) == {"m1": True, "m2": True}


def test_a_minion_of_two_masters_sends_its_mine_to_each(tmp_path):
    from tests.integration.test_multi_master import two_masters

    with two_masters(tmp_path, "mm1", auto_accept=True) as (a, b):
        a.stop_minion("mm1")
        a.add_minion("mm1", master=[f"127.0.0.1:{a.ret_port}", f"127.0.0.1:{b.ret_port}"],
                     grains={"role": "hv"}, mine_functions={"role": {"mine_function": "grains.get", "key": "role"}})
        a.wait_connected(["mm1"])
        b.wait_connected(["mm1"])
        for master in (a, b):  # each master answers from its own store, filled by the minion
            assert wait_mine(master, "mm1", "mm1", "role", lambda d: "mm1" in d) == {"mm1": "hv"}
        assert sorted(os.listdir(a.master_dir / "root" / "cache" / "master" / "mine")) == ["mm1.mine"]
