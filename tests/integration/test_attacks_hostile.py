"""Garbage and hostile peers against real daemons: type confusion on every socket, an accepted
minion that lies (bad records, another's id, events it may not fire, huge returns, frames sent
the wrong way), replays of auth requests and sealed boxes, need to know (a minion is sent only
the jobs whose target expects it), pending key substitution.

Each test asserts that the attack is refused *and* that nothing else broke: the master is
alive and the real minions m1, m2 still answer.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import time

import msgpack
import pytest
import zmq

from pvc.client import listen
from pvc.crypto import fingerprint
from pvc.errors import KeyStateError
from pvc.master.keystore import KeyStore
from pvc.wire.inner import Ack, EventMsg, Heartbeat, Pong, Ret, ReturnRec
from pvc.wire.local import CLIENT_SOCKET
from pvc.wire.messages import Job, Reauth
from pvc.wire.publication import open_job, seal
from tests.cluster.pvc import PvcCluster
from tests.cluster.rogue import RogueMinion, curve_socket, rss_mib
from tests.cluster.wait import wait_for

NAN_MAP = b"\x83\xa1v\x01\xa1k\xa5hello\xa1x\xcb" + struct.pack(">d", float("nan"))
GARBAGE = [
    msgpack.packb({"v": 1, "k": []}),
    msgpack.packb({"v": 1, "k": {"a": 1}}),
    msgpack.packb({"v": [], "k": "hello"}),
    os.urandom(512),
    b"\x91" * 3000 + b"\xc0",                                   # 3,000-deep list
    b"\x81\xa1a" * 1000 + b"\xc0",                              # 1,000-deep map
    NAN_MAP,
    msgpack.packb({"v": 1, "k": "auth", "x": msgpack.ExtType(5, b"abc")}),
    b"\x82\xa1v\x01\xa1k\xd6\xff" + b"\xff\xff\xff\xff",         # Timestamp ext -1 as the kind
    msgpack.packb({"v": 1, "k": "auth", "id": 2**64 - 1, "pub": -2**63}),
    msgpack.packb({1: 2}),
    msgpack.packb([1, 2, 3]),
    b"",
]


def _alive(c: PvcCluster) -> None:
    assert c.procs["master"].poll() is None, "the master died"
    assert c.client().cmd(["m1", "m2"], "test.ping", timeout=5) == {"m1": True, "m2": True}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with PvcCluster(tmp_path_factory.mktemp("hostile")) as c:
        c.start_master()
        c.add_minion("m1", grains={"role": "web"})
        c.add_minion("m2", grains={"role": "web"})
        c.wait_connected(["m1", "m2"])
        yield c


@pytest.fixture
def evil(cluster):
    rogue = RogueMinion(cluster, f"evil{os.urandom(3).hex()}")
    assert rogue.auth() == "accepted"
    rogue.drain_down(0.3)  # its first Pong
    yield rogue
    rogue.close()


# -- 1. type confusion and garbage ------------------------------------------------------------

def test_garbage_on_the_enrolment_port(cluster):
    """Each payload, framed, on its own connection: closed at once without an answer. Raw
    junk that is no frame at all too. A new connection still gets a challenge."""
    rogue = RogueMinion(cluster, "garbage")
    for payload in GARBAGE:
        rogue.send_enrol(payload)
        assert rogue.enrol_closed(2.0), payload[:20]
        assert not rogue.enrol.inbox
        rogue.reconnect()
    for junk in (b"GET / HTTP/1.1\r\n\r\n", b"\xff" * 64, b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f"):  # HTTP, ZMTP
        rogue.send_raw(junk)
        assert rogue.enrol_closed(2.0), junk
        rogue.reconnect()
    assert rogue.hello()
    rogue.close()
    _alive(cluster)


def test_garbage_on_the_client_socket(cluster):
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"ipc://{cluster.client().cfg.sock_dir}/{CLIENT_SOCKET}")
    for payload in GARBAGE + [msgpack.packb({"v": 1, "k": "publish", "tgt": [], "tgt_type": "glob", "fun": "x.y",
                                             "args": [], "kwargs": {}, "timeout": float("inf")})]:
        sock.send(payload)
    sock.send_multipart([b"a", b"b", b"c"])
    time.sleep(0.5)
    sock.close(0)
    _alive(cluster)


def test_bad_inner_records_from_an_accepted_minion(cluster, evil):
    """Valid sealed boxes around bad records: each is dropped, the job completes with the
    real minions' results, and `pvc run`, `pvc job show` and the API all show them."""
    stream = cluster.client().iter_run(["m1", "m2", evil.mid], "test.ping", timeout=3)
    jid = stream.result.jid
    for plain in ({"t": []}, {"t": "ret", "jid": jid, "ret": {"ok": True, "duration": "x"}},
                  {"t": "ret", "jid": jid, "ret": {"ok": True, "duration": -1.0}},
                  {"t": "ret", "jid": jid, "ret": {"ok": "yes"}}, {"t": "ret", "jid": jid, "ret": []},
                  {"t": "hb", "vms": [1, 2]}, {"t": "event", "tag": "pvc/minion/x/y", "data": []}, [], 7):
        evil.send_plain(plain)
    evil.send_channel(evil.seal_plain({"t": "hb"})[:-3])  # a truncated box
    evil.send_plain({"t": "ret", "jid": jid, "ret": {"ok": True, "data": "mine", "id": "m1"}})  # an `id` key
    returns = dict(stream)
    assert returns["m1"].data is True and returns["m2"].data is True
    assert returns[evil.mid].data == "mine"  # its own return, under its own id only
    view = cluster.client().job(jid)
    assert view.returns["m1"].ret.data is True and view.returns[evil.mid].ret.data == "mine"
    shown = cluster.pvc("job", "show", jid)
    assert shown.returncode == 0 and "m1:" in shown.stdout and "m2:" in shown.stdout
    proc = cluster.pvc("run", "m*", "test.ping", "--out", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout) == {"m1": True, "m2": True}
    _alive(cluster)


def test_deep_grains_then_grain_targeting(cluster, evil):
    deep: object = "x"
    for _ in range(400):
        deep = {"d": deep}
    evil.send_plain({"t": "grains", "grains": {"deep": deep}})  # refused by the codec (depth)
    ok: object = "x"
    for _ in range(25):
        ok = {"d": ok}
    evil2 = RogueMinion(cluster, evil.mid + "b")
    assert evil2.auth() == "accepted"
    evil2.send_plain({"t": "grains", "grains": {"deep": ok, "role": ["web", {"n": [[1]]}]}})
    time.sleep(0.3)
    proc = cluster.pvc("run", "-G", "deep:x", "test.ping", "--out", "json", "--timeout", "2")
    assert proc.returncode == 2 and "No minions matched" in proc.stderr
    for flags, tgt in ((["-G"], "role:web"), (["-C"], "G@deep:d:d:x or G@role:web")):
        proc = cluster.pvc("run", *flags, tgt, "test.ping", "--out", "json", "--timeout", "2")
        assert proc.returncode in (0, 1), proc.stderr
        assert {"m1", "m2"} <= set(json.loads(proc.stdout)), proc.stdout
    evil2.close()
    _alive(cluster)


# -- 6. hostile minion against operator tools ----------------------------------------------------

def _bus_tags(sock: zmq.Socket, seconds: float) -> list[str]:
    tags = []
    deadline = time.monotonic() + seconds
    while sock.poll(max(1, int((deadline - time.monotonic()) * 1000))):
        tags.append(sock.recv_multipart()[0].decode("utf-8", "replace"))
    return tags


def test_minion_may_fire_only_about_itself(cluster, evil):
    bus = listen(cluster.client().cfg, "")
    time.sleep(0.3)
    for tag in ("pvc/vm/not-mine/stopped", "pvc/minion/m1/stop", "pvc/node/m1/dead", "pvc/job/1/ret/m1",
                "pvc/auth/x/y", "pvc/virt/m1/connected", "salt/x/y/z", f"pvc/minion/{evil.mid}",
                f"pvc/beacon/{evil.mid}/\x1b[2J"):
        evil.fire(tag, {"id": "m1"})
    evil.fire(f"pvc/beacon/{evil.mid}/ok", {"a": 1})  # the control: allowed
    tags = _bus_tags(bus, 1.0)
    bus.close(0)
    assert [t for t in tags if evil.mid in t or "m1" in t or "not-mine" in t] == [f"pvc/beacon/{evil.mid}/ok"]
    _alive(cluster)


def test_minion_cannot_claim_another_nodes_vm(cluster, evil):
    """prod-db is held by another live minion: naming it in a heartbeat grants nothing."""
    holder = RogueMinion(cluster, evil.mid + "h")
    assert holder.auth() == "accepted"
    holder.send_up(Heartbeat(["prod-db"]))
    time.sleep(0.3)
    bus = listen(cluster.client().cfg, "pvc/vm/")
    time.sleep(0.3)
    evil.send_up(Heartbeat(["prod-db"]))  # a VM it does not run
    evil.fire("pvc/vm/prod-db/stopped", {})
    holder.fire("pvc/vm/prod-db/started", {})  # the control: the holder may
    tags = _bus_tags(bus, 1.0)
    bus.close(0)
    holder.close()
    assert tags.count("pvc/vm/prod-db/started") == 1 and "pvc/vm/prod-db/stopped" not in tags


def test_box_claiming_another_minion_is_refused(cluster, evil):
    stream = cluster.client().iter_run(["m1", evil.mid], "test.sleep", [0.3], timeout=3)
    jid = stream.result.jid
    evil.send_channel(evil.seal_plain({"t": "ret", "jid": jid, "ret": {"ok": True, "data": "forged"}}, mid="m1"))
    evil.send_channel(evil.seal_plain({"t": "bye"}, mid="m1"))  # would end m1's session
    returns = dict(stream)
    assert returns["m1"].data is True
    _alive(cluster)


def test_huge_control_character_return_is_stored_compactly(cluster, evil):
    db = cluster.master_dir / "root" / "cache" / "master" / "jobs.sqlite"

    def size() -> int:
        return sum(p.stat().st_size for p in db.parent.glob("jobs.sqlite*"))

    stream = cluster.client().iter_run([evil.mid], "test.ping", timeout=10)
    before, before_all = db.stat().st_size, size()
    data = "".join(chr(c) for c in range(1, 32)) * (16 * 1024 * 1024 // 31)
    evil.return_for(stream.result.jid, data)
    returns = dict(stream)
    assert len(returns[evil.mid].data) == len(data)
    grown = db.stat().st_size - before  # the WAL beside it holds one more copy until it is reused
    assert grown < 2 * len(data), f"cache grew by {grown / 2**20:.0f} MiB for a {len(data) / 2**20:.0f} MiB return"
    assert size() - before_all < 3 * len(data)
    _alive(cluster)


# -- 7. need to know ----------------------------------------------------------------------------

def _only(mid: str) -> str:
    """A glob that matches ``mid`` alone but is a pattern (a broadcast), not an exact id."""
    return f"{mid[:-1]}[{mid[-1]}]"


def _no_job_reaches(rogue: RogueMinion, seconds: float) -> None:
    """Neither a publication nor a sealed job comes down ``rogue``'s channel (its pongs and acks may)."""
    assert rogue.recv_pub(seconds) is None
    assert [r for r in rogue.drain_down(0.2) if not isinstance(r, (Pong, Ack))] == []


def test_jobs_go_only_to_the_minions_their_target_expects(cluster, evil):
    """An accepted minion reads its channel: a list without it, a single id, a glob and a grain
    target that do not match it send it nothing (the master does not broadcast to everyone and
    let each minion match); a glob that matches it does, once, and it can answer."""
    evil.drain_down(0.2)
    res = cluster.client().run(["m1"], "test.echo", ["for m1 only"])
    assert res.returns["m1"].data == "for m1 only"
    for tgt, flags in (("m1", []), ("m[12]", []), ("m*", []), ("role:web", ["-G"])):
        proc = cluster.pvc("run", *flags, tgt, "test.ping", "--out", "json", "--timeout", "3")
        assert proc.returncode in (0, 1), proc.stderr  # 1: a rogue of an earlier test claimed role:web, then left
        assert set(json.loads(proc.stdout)) <= {"m1", "m2"}, proc.stdout
    _no_job_reaches(evil, 0.3)
    stream = cluster.client().iter_run(_only(evil.mid), "test.ping", timeout=5)  # the control: its own glob
    pub = evil.recv_pub(3.0)
    assert pub is not None
    job = open_job(pub, evil.session, 1 << 20)
    assert job.jid == stream.result.jid and job.fun == "test.ping"
    evil.return_for(job.jid, True)
    assert dict(stream)[evil.mid].data is True
    assert evil.recv_pub(0.3) is None  # one copy
    _alive(cluster)


def test_minion_cannot_mark_another_disconnected(cluster, evil):
    """A connection is m1's only if CURVE says so: another accepted minion that claims m1's id
    in a box (a bye, a heartbeat) or as its ZeroMQ routing id, then drops its connection, neither
    ends m1's session nor moves it onto the dropped connection. m1 stays connected and gets the
    next broadcast."""
    for routing_id in (b"m1", b"m2", b"\x00m1"):
        liar = RogueMinion(cluster, f"{evil.mid}l{routing_id.hex()}")
        assert liar.auth(connect=False) == "accepted"
        liar.connect(routing_id)
        liar.send_channel(liar.seal_plain({"t": "hb"}, mid="m1"))
        liar.send_channel(liar.seal_plain({"t": "bye"}, mid="m1"))
        liar.send_up(Heartbeat())
        liar.drain_down(0.2)
        liar.close()  # its connection ends
    time.sleep(0.5)
    assert set(cluster.client().expected("m*")[1]) == {"m1", "m2"}
    assert cluster.client().cmd("m*", "test.ping", timeout=5) == {"m1": True, "m2": True}
    _alive(cluster)


def test_publication_sent_up_the_channel_is_refused(cluster, evil, tmp_path):
    """Publications only go down. An accepted minion that sends one up (a real one it was sent,
    or one of its own making: it knows the session key) is refused: the master does not pass it
    to anyone, keeps serving that minion's session and everyone else."""
    watcher = RogueMinion(cluster, evil.mid + "w")  # another minion: would see a relayed publication
    assert watcher.auth() == "accepted"
    watcher.drain_down(0.2)
    stream = cluster.client().iter_run(_only(evil.mid), "test.ping", timeout=5)
    real = evil.recv_pub(3.0)
    assert real is not None
    evil.return_for(open_job(real, evil.session, 1 << 20).jid, True)
    dict(stream)
    marker = tmp_path / "ran"
    own = seal(Job("29990101000000000009", "*", "glob", "cmd.run_all", [["sh", "-c", f"touch {marker}"]], {},
                   time.time(), 5.0), evil.grant.key_id, evil.session, evil.key)
    for frame in (real.encode(), own, Reauth().encode()):
        evil.send_channel(frame)
    assert evil.chan is not None
    evil.chan.send_multipart([b"", own])  # as a ROUTER would frame it
    _no_job_reaches(watcher, 1.0)
    assert not marker.exists()
    evil.send_up(Heartbeat())
    assert [r for r in evil.drain_down(1.0) if isinstance(r, Pong)], "its session still answers"
    watcher.close()
    _alive(cluster)


def _glibc_rand(n: int) -> list[int]:
    """The first ``n`` values of glibc's ``rand()`` never seeded (what libzmq draws a ROUTER's
    first routing id from): its additive feedback generator, seed 1."""
    r = [1]
    for i in range(1, 31):
        r.append(16807 * r[i - 1] % 2147483647)
    r += r[0:3]
    for i in range(34, 344 + n):
        r.append((r[i - 31] + r[i - 3]) & 0xFFFFFFFF)
    return [x >> 1 for x in r[344:]]


def _predicted_routing_ids(sockets: int, each: int) -> list[bytes]:
    """The routing ids libzmq gives the first ``each`` connections of each of the first
    ``sockets`` ROUTER/STREAM sockets a process opens: ``\\0`` + a counter from ``rand()``."""
    r = _glibc_rand(2 * sockets)
    starts = [(r[2 * i] | r[2 * i + 1] << 31) & 0xFFFFFFFF for i in range(sockets)]
    return [b"\x00" + struct.pack(">I", (start + j) & 0xFFFFFFFF) for start in starts for j in range(each)]


def test_claimed_routing_ids_do_not_stop_the_master(tmp_path):
    """An accepted minion opens channel connections under the routing ids an unseeded libzmq
    would give the master's next connections (libzmq 4.3.5 aborts the process when a generated
    id is already held); then a minion connects. The master lives on: its ids start at a
    random point, and the key completes only a few handshakes per auth
    (pvc.master.zap.HANDSHAKES_PER_AUTH)."""
    with PvcCluster(tmp_path) as c:
        c.start_master()
        c.add_minion("m1")
        c.wait_connected(["m1"])
        rogue = RogueMinion(c, "squatter")
        assert rogue.auth() == "accepted"
        assert any(isinstance(r, Pong) for r in rogue.drain_down(1.0))  # its own connection has its id
        claims = []
        for routing_id in _predicted_routing_ids(8, 8):  # no frame needed: holding the id is enough
            claims.append(curve_socket(zmq.DEALER, rogue.grant.master_curve, rogue.curve))
            claims[-1].setsockopt(zmq.ROUTING_ID, routing_id)
            claims[-1].connect(f"tcp://127.0.0.1:{c.channel_port}")
        time.sleep(1.0)
        try:
            c.add_minion("m2")
            accepted = c.master_dir / "root" / "pki" / "master" / "minions" / "m2"
            wait_for(lambda: accepted.exists(), 15, "m2 enrolled")
            time.sleep(2.0)  # m2 opens its channel
            assert c.procs["master"].poll() is None, "the master died"
            c.wait_connected(["m1", "m2"])
        finally:
            for sock in claims:
                sock.close(0)
            rogue.close()


# -- 4. replays ---------------------------------------------------------------------------------

def test_replayed_auth_request_is_refused_and_leaves_the_session(cluster, evil):
    """The captured auth request again: on its own connection (challenge already used) and on
    another (challenge not given to it), each connection is closed without an answer."""
    captured = [f for f in evil.sent if b"auth" in f][-1]
    assert not evil.enrol.closed
    evil.send_enrol(captured)  # same connection
    other = RogueMinion(cluster, "replayer")
    other.send_enrol(captured)  # another connection
    assert evil.enrol_closed(2.0) and other.enrol_closed(2.0)
    assert not evil.enrol.inbox and not other.enrol.inbox
    evil.send_up(Heartbeat())
    assert any(isinstance(r, Pong) for r in evil.drain_down(1.0))  # the live session answers
    other.close()
    _alive(cluster)


def test_replayed_sealed_boxes_are_refused(cluster, evil):
    bus = listen(cluster.client().cfg, f"pvc/beacon/{evil.mid}/")
    time.sleep(0.3)
    hb = evil.send_up(Heartbeat())
    assert [r for r in evil.drain_down(0.5) if isinstance(r, Pong)]
    ev = evil.fire(f"pvc/beacon/{evil.mid}/once", {})
    stream = cluster.client().iter_run([evil.mid], "test.ping", timeout=3)
    ret = evil.send_up(Ret(stream.result.jid, ReturnRec(True, True)))
    dict(stream)
    assert [r for r in evil.drain_down(0.5) if isinstance(r, Ack)]
    for box in (hb, ev, ret):
        evil.send_channel(box)
    assert [r for r in evil.drain_down(1.0) if isinstance(r, (Pong, Ack))] == []
    assert _bus_tags(bus, 0.5).count(f"pvc/beacon/{evil.mid}/once") == 1
    bus.close(0)
    evil.send_up(EventMsg(f"pvc/beacon/{evil.mid}/after", {}))  # fresh numbers still work
    evil.send_up(Heartbeat())
    assert [r for r in evil.drain_down(1.0) if isinstance(r, Pong)]


# -- 5. pending key substitution, 8. log file -----------------------------------------------------

def test_pending_key_is_never_substituted(tmp_path):
    with PvcCluster(tmp_path, auto_accept=False) as c:
        c.start_master()
        victim, attacker = RogueMinion(c, "web7"), RogueMinion(c, "web7")
        assert victim.auth() == "pending"
        assert attacker.auth() == "denied"
        assert victim.auth() == "pending"  # the first key is still the pending one
        listed = json.loads(c.pvc("key", "list", "--out", "json").stdout)
        text = json.dumps(listed)
        good, bad = fingerprint(victim.key.public_key().public_bytes_raw()), \
            fingerprint(attacker.key.public_key().public_bytes_raw())
        assert "denied" in text and "web7" in text, listed
        store = KeyStore(str(c.master_dir / "root" / "pki" / "master"))
        with pytest.raises(KeyStateError):
            store.accept("web7", finger=bad)
        assert store.accept("web7", finger=good) == ["web7"]
        c.client().keys_changed()
        assert victim.auth() == "accepted" and attacker.auth() == "denied"
        victim.close()
        attacker.close()


def test_key_accept_cli_takes_a_fingerprint(tmp_path):
    with PvcCluster(tmp_path, auto_accept=False) as c:
        c.start_master()
        rogue = RogueMinion(c, "web8")
        assert rogue.auth() == "pending"
        fp = fingerprint(rogue.key.public_key().public_bytes_raw())
        proc = c.pvc("key", "accept", "web8", "--finger", fp, "--yes")
        rogue.close()
        assert proc.returncode == 0, proc.stderr


def test_master_log_is_private(cluster):
    log = cluster.master_dir / "root" / "log" / "master"
    assert log.exists()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) & 0o077 == 0


def test_master_memory_after_hostile_minions(cluster):
    assert rss_mib(cluster.procs["master"].pid) < 1024
    _alive(cluster)


def test_an_oversized_frame_on_the_channel_is_refused_by_the_transport(tmp_path):
    """``max_message_size`` is in force on the channel's connections themselves (set before the
    bind: libzmq copies options into the listener then): a minion's frame over it ends its
    connection before the master holds it, and the master does not grow."""
    with PvcCluster(tmp_path, master_options={"max_message_size": 1 << 20}) as c:
        c.start_master()
        c.add_minion("m1")
        c.wait_connected(["m1"])
        rogue = RogueMinion(c, "bigframe")
        assert rogue.auth() == "accepted"
        assert any(isinstance(r, Pong) for r in rogue.drain_down(1.0))
        assert rogue.chan is not None
        monitor = rogue.chan.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        pid = c.procs["master"].pid
        before = rss_mib(pid)
        try:
            rogue.send_channel(b"\x00" * (8 << 20))
            assert monitor.poll(10_000), "the master kept a connection that sent 8 MiB over a 1 MiB limit"
            assert rss_mib(pid) - before < 16
            assert c.client().run("m1", "test.ping").ok
        finally:
            rogue.chan.disable_monitor()  # before its reader closes (see pvc.minion.core._unwatch)
            monitor.close(0)
            rogue.close()
