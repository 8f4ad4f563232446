"""Every Salt CVE class, tried against a real master and real minions: each attack must be
refused, and the cluster must keep answering jobs afterwards.

Publications: m1's channel (the one connection that carries everything between the master and
m1, publications included) passes through a tap that an attacker controls (it holds the
master's CURVE secret, i.e. the transport is assumed broken), so what is tested is the
application layer: signature, session key, replay floor and cache. Returns, ids, garbage,
auth floods and revocation are played by a hand-driven rogue minion (tests/cluster/rogue.py).
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest
import zmq

from pvc.crypto import Ed25519PrivateKey, curve_keypair
from pvc.errors import AuthError
from pvc.keys import load_or_create_identity
from pvc.wire.codec import decode, encode
from pvc.wire.inner import Ret, ReturnRec
from pvc.wire.messages import MINION_CHANNEL_KINDS, Job, Publication
from pvc.wire.publication import open_job, seal
from pvc.wire.sealed import Channel
from tests.cluster.ports import free_port
from tests.cluster.pvc import PvcCluster
from tests.cluster.rogue import ChannelTap, RogueMinion, curve_socket, master_curve, master_identity
from tests.cluster.wait import wait_for


@pytest.fixture(scope="module")
def tapped(tmp_path_factory):
    """Master + minions m1, m2; m1's channel passes through a tap an attacker controls."""
    root = tmp_path_factory.mktemp("attacks")
    with PvcCluster(root, master_options={"max_message_size": 1024 * 1024, "auth_rate": 2000.0}) as c:
        c.start_master()
        tap_port = free_port()
        c.add_minion("m1", channel_port=tap_port, pub_window=3.0)
        c.add_minion("m2")
        # the tap speaks to the master with m1's own CURVE key (read once m1 has made it)
        wait_for(lambda: (c.master_dir / "root" / "pki" / "master" / "minions" / "m1").exists(), 15, "m1 accepted")
        m1_key = load_or_create_identity(str(c.minion_dir("m1") / "root" / "pki" / "minion"), "minion")
        tap = ChannelTap(c.master_dir, c.channel_port, tap_port, curve_keypair(m1_key))
        tapper = RogueMinion(c, "tapper")
        assert tapper.auth(connect=False) == "accepted"
        c.wait_connected(["m1", "m2"])
        c.tap = tap
        c.marker_dir = root / "markers"
        c.marker_dir.mkdir()
        yield c
        tap.close()
        tapper.close()


def _marker_job(c: PvcCluster, name: str, jid: str = "29990101000000000000") -> Job:
    path = c.marker_dir / name
    return Job(jid, "m1", "glob", "cmd.run_all", [["sh", "-c", f"echo x >> {path}"]], {}, time.time(), 5.0)


def _ping_ok(c: PvcCluster) -> None:
    """The real minions still answer (a list target: rogue test identities are not waited for)."""
    assert c.client().cmd(["m1", "m2"], "test.ping", timeout=5) == {"m1": True, "m2": True}
    assert c.procs["master"].poll() is None


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_tap_reaches_m1(tapped):
    """The control for the tests below: a publication signed with the master's own key,
    injected by the tap, is run by m1 (what they inject does reach it)."""
    rogue = RogueMinion(tapped, "rogue-control")
    assert rogue.auth() == "accepted"  # it knows the session key
    job = _marker_job(tapped, "control", "29990101000000000099")
    tapped.tap.inject(seal(job, rogue.grant.key_id, rogue.session, master_identity(tapped.master_dir)))
    wait_for(lambda: (tapped.marker_dir / "control").exists(), 5, "m1 ran the injected job")
    _ping_ok(tapped)
    rogue.close()


def test_unsigned_publication_dropped(tapped):
    rogue = RogueMinion(tapped, "rogue-unsigned")
    assert rogue.auth() == "accepted"  # a compromised accepted minion knows the session key
    payload = seal(_marker_job(tapped, "unsigned"), rogue.grant.key_id, rogue.session, Ed25519PrivateKey.generate())
    pub = Publication.from_map(decode(payload, MINION_CHANNEL_KINDS))
    tapped.tap.inject(dataclasses.replace(pub, sig=b"\x00" * 64).encode())
    time.sleep(1.0)
    assert not (tapped.marker_dir / "unsigned").exists()
    _ping_ok(tapped)
    rogue.close()


def test_forged_signature_dropped(tapped):
    rogue = RogueMinion(tapped, "rogue-forger")
    assert rogue.auth() == "accepted"
    forged = seal(_marker_job(tapped, "forged", "29990101000000000001"), rogue.grant.key_id, rogue.session,
                  Ed25519PrivateKey.generate())
    tapped.tap.inject(forged)
    time.sleep(1.0)
    assert not (tapped.marker_dir / "forged").exists()
    _ping_ok(tapped)
    rogue.close()


def test_replayed_publication_dropped_also_after_minion_restart(tapped):
    """Everything the master sent m1 for a broadcast job, again: the publication (same jid
    within the window: the replay cache) and the sealed boxes around it (their counters). After
    a restart of m1 (its cache is gone): the session floor (the job was published before m1's
    new session began)."""
    marker = tapped.marker_dir / "replay"
    before = len(tapped.tap.seen)
    res = tapped.client().run("m[1]", "cmd.run_all", [["sh", "-c", f"echo x >> {marker}"]])  # a glob: a publication
    assert res.ok and _lines(marker) == 1
    captured = tapped.tap.seen[before:]
    assert any(decode(f, MINION_CHANNEL_KINDS)["k"] == Publication.KIND for f in captured), "the tap saw it"
    for frame in captured:
        tapped.tap.inject(frame)
    time.sleep(1.0)
    assert _lines(marker) == 1
    tapped.stop_minion("m1")
    tapped.start_minion("m1")
    tapped.wait_connected(["m1"])
    for frame in captured:  # well within the 3 s window: only the floor can refuse it
        tapped.tap.inject(frame)
    time.sleep(1.0)
    assert _lines(marker) == 1
    _ping_ok(tapped)


def test_return_for_job_that_did_not_target_sender_refused(tapped):
    rogue = RogueMinion(tapped, "rogue-ret")
    assert rogue.auth() == "accepted"
    stream = tapped.client().iter_run("m2", "test.sleep", [0.5])
    jid = stream.result.jid
    rogue.return_for(jid, "forged")
    for _ in stream:
        pass
    job = tapped.client().job(jid)
    assert set(job.returns) == {"m2"}
    assert job.returns["m2"].ret.data is True
    rogue.close()


def test_return_from_unaccepted_key_refused(tmp_path):
    """A pending key gets no channel: its CURVE key never passes ZAP, so neither a box under
    a made-up key for itself nor one claiming to be m1 reaches the master."""
    with PvcCluster(tmp_path, auto_accept=False) as c:
        c.start_master()
        c.add_minion("m1")
        c.accept("m1")
        c.wait_connected(["m1"])
        rogue = RogueMinion(c, "intruder")
        assert rogue.auth() == "pending" and rogue.grant is None
        stream = c.client().iter_run("m1", "test.sleep", [0.5])
        jid = stream.result.jid
        _, master_pub = master_curve(c.master_dir)
        chan = curve_socket(zmq.DEALER, master_pub, rogue.curve)
        chan.connect(f"tcp://127.0.0.1:{c.channel_port}")
        for mid in ("intruder", "m1"):
            chan.send(Channel(mid, os.urandom(32)).seal_up(Ret(jid, ReturnRec(True, 1))))
        for _ in stream:
            pass
        assert set(c.client().job(jid).returns) == {"m1"}
        assert chan.poll(300) == 0  # not even a "reauth": the handshake never completed
        chan.close(0)
        rogue.close()


@pytest.mark.parametrize("bad_id", ["../../etc/x", "a/b", "..", "x" * 300, "nul\x00id", "", "-rf"])
def test_bad_minion_ids_refused(tapped, bad_id):
    from pvc.ids import is_valid_minion_id

    rogue = RogueMinion(tapped, "probe")
    req, _ = rogue.request(rogue.hello(), mid=bad_id)
    rogue.send_enrol(req.encode())
    assert rogue.enrol_closed(2.0) and not rogue.enrol.inbox  # no answer: the connection is closed
    pki = Path(tapped.master_dir) / "root" / "pki" / "master"
    key_files = [p for p in pki.rglob("*") if p.is_file() and p.parent != pki]
    assert all(is_valid_minion_id(p.name) for p in key_files)
    assert not list(Path(tapped.root).rglob("etc"))
    _ping_ok(tapped)
    rogue.close()


def test_oversized_frame_and_garbage_survived(tapped):
    """Each is a violation: the connection is closed at once, with no answer, and a new
    connection from the same address is welcome (nothing was held against it)."""
    rogue = RogueMinion(tapped, "garbage")
    for payload in (b"\x00" * (2 * 1024 * 1024),  # over max_preauth_size: closed at the header
                    b"\xc1\xc1\xc1 not msgpack",
                    encode("sealed", {"id": "m1", "c": 0, "ct": b"\x00" * 64}),  # a box on the enrol port
                    encode("publish", {"tgt": "*"}),  # a client request on the minion port
                    b"\x92\x01", encode("auth", {"id": 5})):
        rogue.send_enrol(payload)
        assert rogue.enrol_closed(2.0), payload[:20]
        assert not rogue.enrol.inbox
        rogue.reconnect()
    assert rogue.hello()
    rogue.close()
    _ping_ok(tapped)


def test_auth_flood_does_not_starve_jobs(tapped):
    """1,000 auth requests with made-up keys over one challenge from one connection: the first
    is queued, the second use of the challenge closes the connection (the rest go nowhere);
    doing it again costs a new connection and a hello each time. Jobs do not wait."""
    flood = RogueMinion(tapped, "flood")
    chal = flood.hello()
    delivered = 0
    for n in range(1000):
        req, _ = flood.request(chal, mid=f"fake-{n:04d}")
        delivered += flood.send_enrol(req.encode())
    assert flood.enrol_closed(2.0)
    assert delivered < 1000, "the master closed the connection long before the end"
    start = time.monotonic()
    _ping_ok(tapped)
    assert time.monotonic() - start < 3.0
    pki = Path(tapped.master_dir) / "root" / "pki" / "master" / "minions"
    assert sum(p.name.startswith("fake-") for p in pki.iterdir()) <= 1  # one challenge, one key at most
    flood.close()


def test_deleted_minion_cannot_read_next_publication(tapped):
    rogue = RogueMinion(tapped, "leaver")
    assert rogue.auth() == "accepted"
    old_key = rogue.session
    res = tapped.pvc("key", "delete", "leaver", "--yes")
    assert res.returncode == 0, res.stderr
    assert "revoked: leaver" in res.stdout
    before = len(tapped.tap.seen)
    assert tapped.client().run("m[12]", "test.ping", timeout=5).ok  # a broadcast under the new key
    new_pubs = tapped.tap.publications(before)
    assert new_pubs
    for pub in new_pubs:
        with pytest.raises(AuthError):
            open_job(pub, old_key, 1 << 20)
    # and its CURVE key is revoked: a new channel connection never completes the handshake
    rogue.close()
    _ping_ok(tapped)
