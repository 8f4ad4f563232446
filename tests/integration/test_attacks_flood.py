"""The bounded cost of strangers, and auth starvation, against a real master (issue 7).

The flood engine is bench/flood.py's (the same attacks ``python -m bench flood`` reports):
16 stranger sockets cycling through oversized and garbage frames on the enrolment port (raw
TCP, length-prefixed frames: each violation closes the connection and the attacker
reconnects), auth requests with garbage signatures over fresh challenges, plain and
unknown-key CURVE connections to the channel port (the master's one ZMTP port: returns come up
it, publications go down it), CURVE handshakes with a fresh unknown key each, and frames left a
byte short.
Then what the old ZMTP enrolment port could not bound: an endless stream of bytes, a 4 GiB
declared length, and a slow-loris of 1,000 connections each sending 3 bytes. Each test is
bounded (a few seconds of flood) and checks that the master is alive afterwards.
"""

from __future__ import annotations

import time

import pytest
import zmq

from bench.flood import (
    MINIONS,
    Flood,
    RssSampler,
    boot,
    closed_count,
    enrol_s,
    fd_count,
    flood_for,
    ping_ms,
    slowloris,
)
from pvc.master.enrolport import MAX_PER_ADDRESS
from tests.cluster.pvc import PvcCluster
from tests.cluster.rogue import RogueMinion, curve_socket, master_curve, rss_mib


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with PvcCluster(tmp_path_factory.mktemp("flood")) as c:
        boot(c)
        yield c


def _alive(c: PvcCluster) -> None:
    """The master runs, and both ways a job goes down the channels reach every minion: sealed to
    each listed id, and the one shared publication of a glob (broadcast) job."""
    assert c.procs["master"].poll() is None, "the master died"
    everyone = {m: True for m in MINIONS}
    assert c.client().cmd(list(MINIONS), "test.ping", timeout=5) == everyone
    assert c.client().cmd("m?", "test.ping", timeout=5) == everyone


def test_strangers_cannot_send_on_the_channel_nor_hear_a_broadcast(cluster):
    """Plain ZMTP and an unknown CURVE key on the channel port: no frame gets in, and the
    broadcast that goes down every minion's channel reaches neither."""
    _, public = master_curve(cluster.master_dir)
    plain = zmq.Context.instance().socket(zmq.DEALER)
    plain.setsockopt(zmq.LINGER, 0)
    plain.connect(f"tcp://127.0.0.1:{cluster.channel_port}")
    stranger = curve_socket(zmq.DEALER, public)
    stranger.connect(f"tcp://127.0.0.1:{cluster.channel_port}")
    for sock in (plain, stranger):
        for _ in range(10):
            try:
                sock.send(b"\x81\xa1v\x01", zmq.NOBLOCK)
            except zmq.Again:
                break
    time.sleep(0.3)
    cluster.client().run("m*", "test.ping")  # a broadcast: only accepted minions may see it
    assert all(s.poll(300) == 0 for s in (plain, stranger))  # not even a "reauth"
    for s in (plain, stranger):
        s.close(0)
    _alive(cluster)


def test_oversized_preauth_frames_close_the_connection(cluster):
    rogue = RogueMinion(cluster, "big")
    rogue.send_enrol(b"\x81" + b"\x00" * 5000)  # > max_preauth_size (4 KiB): closed at the header
    assert rogue.enrol_closed(2.0) and rogue.recv_enrol(0.1) is None
    assert rogue.hello()  # a new connection is welcome: nothing held against the address
    rogue.close()
    _alive(cluster)


def test_handshakes_from_unknown_keys_are_refused_at_a_bounded_cost(cluster):
    """16 sockets making CURVE handshakes on the channel port for 4 s, each with a fresh key the
    master never registered: the ZAP handler refuses every one and admits none, the master does
    not grow, and the connected minions' test.ping median stays < 100 ms."""
    pid = cluster.procs["master"].pid
    before = rss_mib(pid)
    flood = flood_for(cluster, 16, ("curve_keys",))
    with RssSampler(pid) as rss:
        pings = flood.run_for(4.0, lambda: (time.sleep(0.5), ping_ms(cluster, 1, seconds=3.0))[1])
    time.sleep(1.0)
    after, peak = rss_mib(pid), max(rss.samples)
    median = sorted(pings)[len(pings) // 2]
    print(f"unknown-key handshakes: {dict(flood.sent)}; master {before:.1f} -> peak {peak:.1f} -> after "
          f"{after:.1f} MiB; ping median {median:.1f} ms over {len(pings)}")
    _alive(cluster)
    assert flood.sent["curve_keys_admitted"] == 0
    # a slot waits for each verdict up to the end of its 1 s window: only a window's last
    # attempt can be left without one (16 slots x at most 5 windows)
    assert flood.sent["curve_keys_refused"] > 100
    assert flood.sent["curve_keys_refused"] >= flood.sent["curve_keys"] - 16 * 5
    assert peak - before < 64 and after - before < 16
    assert median < 100.0, f"test.ping median {median:.0f} ms during the flood"


def test_stranger_flood_bounded_memory_and_latency(cluster):
    """16 sockets for 6 s (the bench runs 10): RSS growth < 64 MiB and back near baseline, the
    connected minions' test.ping median < 100 ms. A new minion's enrolment during the flood is
    measured and printed here; its 5 s target is the xfail below."""
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
    assert peak - base < 64 and after - base < 16
    _alive(cluster)
    assert median < 100.0, f"test.ping median {median:.0f} ms during the flood"


def test_new_minion_enrols_quickly_during_the_flood(cluster):
    flood = flood_for(cluster, 16)

    def during() -> tuple[int, float]:
        time.sleep(1.0)
        answered = 0
        for _ in range(20):
            probe = RogueMinion(cluster, "probe")
            try:
                probe.hello(1.0)
                answered += 1
            except TimeoutError:
                pass
            probe.close()
        return answered, enrol_s(cluster, "new-flood2", timeout=5)

    answered, enrol = flood.run_for(8.0, during)
    # the attacker shares the minion's source address here (loopback), so it also shares the
    # per-address budget of new connections: single-shot probes are often refused, the minion
    # (which says hello again on every reconnect) gets through
    print(f"during the flood: {answered}/20 fresh hellos answered within 1 s; a new minion enrolled in {enrol:.2f} s")
    _alive(cluster)
    assert enrol < 5.0


def test_garbage_flood_does_not_delay_connected_minions(cluster):
    """Garbage frames on the enrolment port from 16 sockets (each closed at its first frame,
    the attacker reconnecting at once): test.ping median < 100 ms."""
    flood = flood_for(cluster, 16, ("garbage",))
    pings = flood.run_for(4.0, lambda: (time.sleep(0.5), ping_ms(cluster, 1, seconds=3.0))[1])
    median = sorted(pings)[len(pings) // 2]
    print(f"garbage flood: ping median {median:.1f} ms over {len(pings)}; sent {dict(flood.sent)}")
    _alive(cluster)
    # each slot works in 1 s windows and stops waiting for the close at a window's end: at most
    # one connection per slot and window (16 x ~5) is left uncounted, closed or not
    assert flood.sent["garbage"] > 100 and flood.sent["garbage_closed"] >= flood.sent["garbage"] - 16 * 5
    assert median < 100.0, f"test.ping median {median:.0f} ms during the flood"


def test_slowloris_of_1000_connections_is_bounded(cluster):
    """1,000 connections from one address, each sending 3 bytes of a frame header and then
    nothing: at most MAX_PER_ADDRESS are kept (the rest closed at once), the master does not
    grow, minions keep answering, and the master lets go of every socket when they leave."""
    pid = cluster.procs["master"].pid
    before_rss, before_fds = rss_mib(pid), fd_count(pid)
    with RssSampler(pid) as rss:
        socks = slowloris(cluster.ret_port, 1000)
        closed = closed_count(socks, 2.0)
        held_fds = fd_count(pid)
        pings = ping_ms(cluster, 10)
    peak = max(rss.samples)
    for s in socks:
        s.close()
    deadline = time.monotonic() + 5
    while fd_count(pid) > before_fds + 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    after_fds, after_rss = fd_count(pid), rss_mib(pid)
    median = sorted(pings)[len(pings) // 2]
    print(f"slowloris: {len(socks)} connected, {closed} closed by the master at once, master fds "
          f"{before_fds} -> {held_fds} -> {after_fds}, rss {before_rss:.1f} -> peak {peak:.1f} -> "
          f"after {after_rss:.1f} MiB, ping median {median:.1f} ms")
    assert len(socks) == 1000
    assert closed >= 1000 - MAX_PER_ADDRESS
    assert held_fds - before_fds <= MAX_PER_ADDRESS + 8
    assert after_fds <= before_fds + 4, "the master keeps sockets of connections that left"
    assert peak - before_rss < 64 and after_rss - before_rss < 16
    assert median < 100.0
    _alive(cluster)


@pytest.mark.parametrize("mode", ["endless", "hugelen"])
def test_endless_stream_on_the_enrolment_port_is_bounded(cluster, mode):
    """Two connections writing bytes without end (inside one frame's declared length, or
    behind a declared length of 4 GiB): each is closed at once, the master does not grow, and
    the minions keep answering."""
    pid = cluster.procs["master"].pid
    before = rss_mib(pid)
    flood = Flood(cluster.ret_port, cluster.channel_port, b"", 2, (mode,),
                  endless_cap=192 * 1024 * 1024)
    with RssSampler(pid) as rss:
        pings = flood.run_for(3.0, lambda: ping_ms(cluster, 1, seconds=2.5))
    # the attacker's connections are closed; give libzmq up to 5 s to let their buffers go (on
    # a loaded 2-core box 1 s was not always enough: the bound itself is unchanged)
    settle = time.monotonic() + 5.0
    time.sleep(1.0)
    after = rss_mib(pid)
    while after - before >= 16 and time.monotonic() < settle:
        time.sleep(0.2)
        after = rss_mib(pid)
    peak = max(rss.samples)
    median = sorted(pings)[len(pings) // 2]
    print(f"{mode}: {flood.sent['endless_bytes'] / 2**20:.1f} MiB written, {flood.sent[mode + '_closed']} "
          f"connections closed by the master (at most {flood.sent['endless_max_conn_bytes'] / 2**20:.1f} MiB "
          f"written on one, kernel buffers included); master {before:.0f} -> peak {peak:.0f} -> after {after:.0f} MiB; "
          f"ping median {median:.1f} ms")
    _alive(cluster)
    assert flood.sent[f"{mode}_closed"] >= 2, "the master closes every such connection"
    assert flood.sent["endless_max_conn_bytes"] < 16 * 2**20, "closed early, not after the attacker gave up"
    assert peak - before < 64 and after - before < 16
    assert median < 100.0


def test_enrolment_open_again_right_after_an_endless_stream(cluster):
    flood = Flood(cluster.ret_port, cluster.channel_port, b"", 2, ("hugelen",),
                  endless_cap=64 * 1024 * 1024)
    flood.run_for(2.0)
    time.sleep(1.0)
    socks = slowloris(cluster.ret_port, 10, b"")
    closed = closed_count(socks, 1.0)
    for sock in socks:
        sock.close()
    print(f"after an endless stream: {closed} of 10 fresh connections closed at once")
    _alive(cluster)
    assert closed == 0


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
