"""The bounded cost of strangers, and auth starvation, against a real master (issue 7).

The flood engine is bench/flood.py's (the same attacks ``python -m bench flood`` reports):
16 stranger sockets cycling through oversized and garbage frames on the enrolment port, auth
requests with garbage signatures over fresh challenges, plain and unknown-key CURVE
connections to the channel and publish ports, and frames left a byte short. Each test is
bounded (a few seconds of flood) and checks that the master is alive afterwards.
"""

from __future__ import annotations

import time

import pytest
import zmq

from bench.flood import MINIONS, Flood, RssSampler, boot, enrol_s, flood_for, ping_ms
from tests.cluster.pvc import PvcCluster
from tests.cluster.rogue import RogueMinion, curve_socket, master_curve, rss_mib


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with PvcCluster(tmp_path_factory.mktemp("flood")) as c:
        boot(c)
        yield c


def _alive(c: PvcCluster) -> None:
    assert c.procs["master"].poll() is None, "the master died"
    assert c.client().cmd(list(MINIONS), "test.ping", timeout=5) == {m: True for m in MINIONS}


def test_strangers_cannot_send_on_the_channel_nor_subscribe(cluster):
    _, public = master_curve(cluster.master_dir)
    plain = zmq.Context.instance().socket(zmq.DEALER)
    plain.setsockopt(zmq.LINGER, 0)
    plain.connect(f"tcp://127.0.0.1:{cluster.channel_port}")
    stranger = curve_socket(zmq.DEALER, public)
    stranger.connect(f"tcp://127.0.0.1:{cluster.channel_port}")
    subs = [curve_socket(zmq.SUB, public), zmq.Context.instance().socket(zmq.SUB)]
    for sub in subs:
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(f"tcp://127.0.0.1:{cluster.publish_port}")
    for sock in (plain, stranger):
        for _ in range(10):
            try:
                sock.send(b"\x81\xa1v\x01", zmq.NOBLOCK)
            except zmq.Again:
                break
    time.sleep(0.3)
    cluster.client().run("m*", "test.ping")  # a broadcast: only accepted minions may see it
    assert all(s.poll(300) == 0 for s in (plain, stranger, *subs))  # not even a "reauth"
    for s in (plain, stranger, *subs):
        s.close(0)
    _alive(cluster)


def test_oversized_preauth_frames_are_dropped(cluster):
    rogue = RogueMinion(cluster, "big")
    rogue.send_enrol(b"\x81" + b"\x00" * 5000)  # > max_preauth_size (4 KiB): zmq drops the peer
    assert rogue.recv_enrol(0.5) is None
    rogue.close()
    _alive(cluster)


def test_many_subscriptions_from_an_accepted_minion_do_not_grow_the_master(cluster):
    rogue = RogueMinion(cluster, "subber")
    assert rogue.auth() == "accepted"
    pid = cluster.procs["master"].pid
    before = rss_mib(pid)
    for n in range(20_000):
        rogue.sub.setsockopt(zmq.SUBSCRIBE, b"topic-%05d-" % n + b"x" * 200)
    time.sleep(1.5)
    assert rss_mib(pid) - before < 16
    rogue.close()
    _alive(cluster)


def test_stranger_flood_bounded_memory_latency_and_enrolment(cluster):
    """16 sockets for 6 s (the bench runs 10): RSS growth < 64 MiB and back near baseline,
    the connected minions' test.ping median < 100 ms, a new minion enrols within 5 s."""
    pid = cluster.procs["master"].pid
    ping_ms(cluster, 3)
    base = rss_mib(pid)
    flood = flood_for(cluster, 16)
    seconds = 6.0

    def during() -> tuple[list[float], float]:
        time.sleep(1.0)
        enrol = enrol_s(cluster, "new-flood", timeout=10)
        return ping_ms(cluster, 1, seconds=seconds - 1.5 - min(enrol, 3.0)), enrol

    with RssSampler(pid) as rss:
        pings, enrol = flood.run_for(seconds, during)
    assert cluster.procs["master"].poll() is None
    peak = max(rss.samples)
    time.sleep(2.0)
    after = rss_mib(pid)
    median = sorted(pings)[len(pings) // 2]
    print(f"flood: rss {base:.1f} -> peak {peak:.1f} -> after {after:.1f} MiB; ping median {median:.1f} ms "
          f"over {len(pings)}; enrol {enrol:.2f} s; sent {dict(flood.sent)}")
    assert peak - base < 64 and after - base < 32
    assert enrol < 5.0
    _alive(cluster)
    assert median < 250.0, f"test.ping median {median:.0f} ms during the flood"  # 100 ms: see the next test


@pytest.mark.xfail(strict=True, reason="BUG: small garbage frames on the enrolment port are read by the master's "
                   "one loop (up to 5,000 per turn) before the channel: connected minions' test.ping median > 100 ms")
def test_garbage_flood_does_not_delay_connected_minions(cluster):
    flood = flood_for(cluster, 16, ("garbage",))
    pings = flood.run_for(4.0, lambda: (time.sleep(0.5), ping_ms(cluster, 1, seconds=3.0))[1])
    median = sorted(pings)[len(pings) // 2]
    print(f"garbage flood: ping median {median:.1f} ms over {len(pings)}; sent {dict(flood.sent)}")
    _alive(cluster)
    assert median < 100.0, f"test.ping median {median:.0f} ms during the flood"


@pytest.mark.xfail(strict=True, reason="BUG: ZMQ_MAXMSGSIZE bounds each frame, not a message: an endless "
                   "multipart message of 4 KiB frames on the enrolment port is buffered by libzmq without limit")
def test_endless_multipart_on_the_enrolment_port_is_bounded(cluster):
    pid = cluster.procs["master"].pid
    before = rss_mib(pid)
    flood = Flood(cluster.ret_port, cluster.channel_port, cluster.publish_port, b"", 2, ("multipart",),
                  multipart_cap=192 * 1024 * 1024)
    with RssSampler(pid) as rss:
        flood.run_for(4.0)
    time.sleep(1.0)
    print(f"multipart: {flood.sent['multipart_bytes'] / 2**20:.0f} MiB sent, master {before:.0f} -> "
          f"peak {max(rss.samples):.0f} -> after {rss_mib(pid):.0f} MiB")
    _alive(cluster)
    assert max(rss.samples) - before < 64, f"master grew by {max(rss.samples) - before:.0f} MiB"


def test_auth_starvation_new_minion_and_master_restart(tmp_path):
    """Garbage-signature auth requests over valid fresh challenges from 8 sockets: a new minion
    still enrols within 5 s, and after a master restart its minions are back within 5 s."""
    with PvcCluster(tmp_path) as c:
        boot(c)
        flood = flood_for(c, 8, ("authjunk",))

        def during() -> tuple[float, float]:
            time.sleep(0.5)
            enrol = enrol_s(c, "late", timeout=10)
            c.stop_master()
            t0 = time.monotonic()
            c.start_master()
            try:
                c.wait_connected([*MINIONS, "late"], timeout=10)
            except TimeoutError:
                return enrol, float("inf")
            return enrol, time.monotonic() - t0

        enrol, back = flood.run_for(12.0, during)
        print(f"auth flood: enrol {enrol:.2f} s, re-admitted after restart in {back:.2f} s; sent {dict(flood.sent)}")
        assert flood.sent["authjunk"] > 50
        assert enrol < 5.0 and back < 5.0
        assert c.client().cmd([*MINIONS, "late"], "test.ping", timeout=5) == {m: True for m in (*MINIONS, "late")}
