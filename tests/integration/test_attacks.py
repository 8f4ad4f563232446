"""Every Salt CVE class, tried against a real master and real minions: each attack must be
refused, and the cluster must keep answering jobs afterwards."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pvc.crypto import Ed25519PrivateKey
from pvc.wire.codec import encode
from pvc.wire.messages import Job
from pvc.wire.publication import BROADCAST, seal
from tests.cluster.pvc import PvcCluster, free_port
from tests.cluster.rogue import PubTap, RogueMinion


@pytest.fixture(scope="module")
def tapped(tmp_path_factory):
    """Master + minions m1, m2; m1's publications pass through a tap an attacker controls."""
    root = tmp_path_factory.mktemp("attacks")
    with PvcCluster(root, master_options={"max_message_size": 1024 * 1024, "auth_rate": 2000.0}) as c:
        c.start_master()
        tap_port = free_port()
        tap = PubTap(c.publish_port, tap_port)
        c.add_minion("m1", publish_port=tap_port, pub_window=3.0)
        c.add_minion("m2")
        c.wait_connected()
        c.tap = tap
        c.marker_dir = root / "markers"
        c.marker_dir.mkdir()
        yield c
        tap.close()


def _marker_job(c: PvcCluster, name: str, jid: str = "29990101000000000000") -> Job:
    path = c.marker_dir / name
    return Job(jid, "m1", "glob", "cmd.run_all", [["sh", "-c", f"echo x >> {path}"]], {}, time.time(), 5.0)


def _ping_ok(c: PvcCluster) -> None:
    """The real minions still answer (a list target: rogue test identities are not waited for)."""
    assert c.client().cmd(["m1", "m2"], "test.ping", timeout=5) == {"m1": True, "m2": True}


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_unsigned_publication_dropped(tapped):
    rogue = RogueMinion(tapped.ret_port, "rogue-unsigned")
    assert rogue.auth() == "accepted"  # a compromised accepted minion knows the session key
    payload = seal(_marker_job(tapped, "unsigned"), rogue.grant.key_id, rogue.session, Ed25519PrivateKey.generate())
    # strip the signature: all zero bytes
    from pvc.wire.codec import decode
    from pvc.wire.messages import MINION_PUB_KINDS, Publication

    pub = Publication.from_msg(decode(payload, MINION_PUB_KINDS))
    unsigned = Publication(pub.kid, pub.n, pub.ct, b"\x00" * 64).encode()
    tapped.tap.inject([BROADCAST, unsigned])
    time.sleep(1.0)
    assert not (tapped.marker_dir / "unsigned").exists()
    _ping_ok(tapped)
    rogue.close()


def test_forged_signature_dropped(tapped):
    rogue = RogueMinion(tapped.ret_port, "rogue-forger")
    assert rogue.auth() == "accepted"
    forged = seal(_marker_job(tapped, "forged", "29990101000000000001"), rogue.grant.key_id, rogue.session,
                  Ed25519PrivateKey.generate())
    tapped.tap.inject([BROADCAST, forged])
    time.sleep(1.0)
    assert not (tapped.marker_dir / "forged").exists()
    _ping_ok(tapped)
    rogue.close()


def test_replayed_publication_dropped(tapped):
    marker = tapped.marker_dir / "replay"
    before = len(tapped.tap.seen)
    res = tapped.client().run("m1", "cmd.run_all", [["sh", "-c", f"echo x >> {marker}"]])
    assert res.ok and _lines(marker) == 1
    captured = tapped.tap.seen[before:]
    assert captured, "the tap saw the publication"
    for frames in captured:  # same jid, within the window: the replay cache refuses it
        tapped.tap.inject(frames)
    time.sleep(1.0)
    assert _lines(marker) == 1
    # old timestamp: restart m1 (its replay cache is gone) and wait past its 3 s window
    tapped.stop_minion("m1")
    tapped.start_minion("m1")
    tapped.wait_connected(["m1"])
    time.sleep(3.5)
    for frames in captured:
        tapped.tap.inject(frames)
    time.sleep(1.0)
    assert _lines(marker) == 1
    _ping_ok(tapped)


def test_return_for_job_that_did_not_target_sender_refused(tapped):
    rogue = RogueMinion(tapped.ret_port, "rogue-ret")
    assert rogue.auth() == "accepted"
    stream = tapped.client().iter_run("m2", "test.sleep", [0.5])
    jid = stream.result.jid
    rogue.send_return(jid, "forged")
    for _ in stream:
        pass
    job = tapped.client().job(jid)
    assert set(job["returns"]) == {"m2"}
    assert job["returns"]["m2"]["ret"]["data"] is True
    rogue.close()


def test_return_from_unaccepted_key_refused(tmp_path):
    with PvcCluster(tmp_path, auto_accept=False) as c:
        c.start_master()
        c.add_minion("m1")
        c.accept("m1")
        c.wait_connected(["m1"])
        rogue = RogueMinion(c.ret_port, "intruder")
        assert rogue.auth() == "pending"
        stream = c.client().iter_run("m1", "test.sleep", [0.5])
        jid = stream.result.jid
        # it has no channel key: try its own key, and claim to be m1
        from pvc.wire.sealed import Channel

        for mid in ("intruder", "m1"):
            rogue.send_raw(Channel(mid, os.urandom(32)).seal_up("ret", {"jid": jid, "ret": {"ok": True, "data": 1}}))
        for _ in stream:
            pass
        assert set(c.client().job(jid)["returns"]) == {"m1"}
        rogue.close()


@pytest.mark.parametrize("bad_id", ["../../etc/x", "a/b", "..", "x" * 300, "nul\x00id", "", "-rf"])
def test_bad_minion_ids_refused(tapped, bad_id):
    from pvc.ids import is_valid_minion_id
    from pvc.wire.auth import make_request

    rogue = RogueMinion(tapped.ret_port, bad_id)
    req, _ = make_request(bad_id, rogue.key)
    rogue.send_raw(req.encode())
    assert rogue.recv(1.0) is None  # no answer at all
    pki = Path(tapped.master_dir) / "root" / "pki" / "master"
    key_files = [p for p in pki.rglob("*") if p.is_file() and p.parent != pki]
    assert all(is_valid_minion_id(p.name) for p in key_files)
    assert not list(Path(tapped.root).rglob("etc"))
    _ping_ok(tapped)
    rogue.close()


def test_oversized_frame_and_garbage_survived(tapped):
    rogue = RogueMinion(tapped.ret_port, "garbage")
    rogue.send_raw(b"\x00" * (2 * 1024 * 1024))  # over max_message_size: zmq drops the peer
    rogue.send_raw(b"\xc1\xc1\xc1 not msgpack")
    rogue.send_raw(encode("sealed", {"id": "m1", "n": b"\x00" * 12, "ct": b"\x00" * 64}))
    rogue.send_raw(encode("publish", {"tgt": "*"}))  # a client request on the minion port
    rogue.close()
    other = RogueMinion(tapped.ret_port, "garbage2")
    other.send_raw(b"\x92\x01")
    other.send_raw(encode("sealed", {"id": 5}))
    other.close()
    _ping_ok(tapped)


def test_auth_flood_does_not_starve_jobs(tapped):
    flood = RogueMinion(tapped.ret_port, "flood")
    from pvc.wire.auth import make_request

    keys = [Ed25519PrivateKey.generate() for _ in range(1000)]
    for n, key in enumerate(keys):
        req, _ = make_request(f"fake-{n:04d}", key)
        flood.send_raw(req.encode())
    start = time.monotonic()
    _ping_ok(tapped)
    assert time.monotonic() - start < 3.0
    flood.close()


def test_deleted_minion_cannot_read_next_publication(tapped):
    rogue = RogueMinion(tapped.ret_port, "leaver")
    assert rogue.auth() == "accepted"
    old_key = rogue.session
    res = tapped.pvc("key", "delete", "leaver", "--yes")
    assert res.returncode == 0, res.stderr
    assert "revoked: leaver" in res.stdout
    before = len(tapped.tap.seen)
    _ping_ok(tapped)  # m1 and m2 got the new key without re-authenticating
    from pvc.errors import AuthError
    from pvc.wire.codec import decode
    from pvc.wire.messages import MINION_PUB_KINDS, Publication
    from pvc.wire.publication import open_job

    new_pubs = [Publication.from_msg(decode(f[1], MINION_PUB_KINDS)) for f in tapped.tap.seen[before:]]
    assert new_pubs
    for pub in new_pubs:
        with pytest.raises(AuthError):
            open_job(pub, old_key)
    rogue.close()
