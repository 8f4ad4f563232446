"""pvc.master.mine: minions write only their own entries, read what targets match and what
they may read (allow_tgt), in bounded answers; bad targets and full stores are errors, never
crashes; requests are answered off the loop thread and bounded per minion."""

from __future__ import annotations

import select
import time

import pytest

from pvc.master import mine as mine_mod
from pvc.master.mine import PER_MINION, MineServer
from pvc.master.minestore import MineStore
from pvc.wire.mine import BUSY, MineData, MineDelete, MineEntry, MineGet, MineUpdate

GRAINS = {"hv1": {"role": "hv", "os": "Debian"}, "hv2": {"role": "hv"}, "web1": {"role": "web"}}


@pytest.fixture
def server(tmp_path):
    sent: list[tuple[str, MineData]] = []
    srv = MineServer(MineStore(str(tmp_path), 65536, 1 << 20), {"hvs": "hv*"}, GRAINS,
                     lambda mid, rec: sent.append((mid, rec)))
    srv.sent = sent  # type: ignore[attr-defined]
    for mid, grains in GRAINS.items():
        assert srv.answer(mid, MineUpdate(1, [MineEntry("grains.items", grains),
                                              MineEntry("secret", f"{mid}-only-hv2", "hv2")]), None) == MineData(1)
    yield srv
    srv.close()


def get(srv: MineServer, asker: str, tgt: str, tgt_type: str = "glob", funs: tuple[str, ...] = ("grains.items",)):
    return srv.answer(asker, MineGet(7, tgt, tgt_type, list(funs)), dict(GRAINS))


def test_targets_of_every_kind(server):
    assert get(server, "web1", "hv*").data == {"grains.items": {"hv1": GRAINS["hv1"], "hv2": GRAINS["hv2"]}}
    assert list(get(server, "web1", "hv1,web1", "list").data["grains.items"]) == ["hv1", "web1"]
    assert list(get(server, "hv1", "role:web", "grain").data["grains.items"]) == ["web1"]
    assert list(get(server, "hv1", "G@role:hv and not hv1", "compound").data["grains.items"]) == ["hv2"]
    assert list(get(server, "hv1", "hvs", "nodegroup").data["grains.items"]) == ["hv1", "hv2"]
    assert get(server, "hv1", "nobody*").data == {"grains.items": {}}
    assert get(server, "hv1", "*", funs=("nothing",)).data == {"nothing": {}}


def test_allow_tgt_limits_who_reads_an_entry(server):
    assert get(server, "hv2", "*", funs=("secret",)).data["secret"] == {m: f"{m}-only-hv2" for m in GRAINS}
    assert get(server, "hv1", "*", funs=("secret",)).data["secret"] == {}
    assert get(server, "web1", "*", funs=("secret",)).data["secret"] == {}


def test_writes_are_the_senders_own_and_delete_flush(server):
    server.answer("hv1", MineDelete(2, ["secret"]), None)
    assert list(get(server, "hv2", "*", funs=("secret",)).data["secret"]) == ["hv2", "web1"]
    server.answer("web1", MineDelete(3, flush=True), None)
    assert list(get(server, "hv2", "*").data["grains.items"]) == ["hv1", "hv2"]


def test_bad_targets_full_store_and_big_answers_are_errors(server, monkeypatch):
    assert "compound" in get(server, "hv1", "G@role:hv and (", "compound").error
    assert get(server, "hv1", "x", "nonsense").error
    bad_acl = server.answer("hv1", MineUpdate(4, [MineEntry("x", 1, "a and (", "compound")]), None)
    assert bad_acl.error and server.store.get("hv1", "x") is None
    full = server.answer("hv1", MineUpdate(5, [MineEntry("big", "x" * 70000)]), None)
    assert "more than the 65536" in full.error and server.store.get("hv1", "grains.items") is not None
    monkeypatch.setattr(mine_mod, "MAX_ANSWER", 30)  # three entries of 10-22 bytes
    assert "narrow the target" in get(server, "hv1", "*").error
    assert server.stats["refused"] >= 4


def test_off_the_loop_bounded_per_minion_and_key_deletion(server):
    for n in range(PER_MINION * 3):
        server.submit("hv1", MineGet(n, "*", funs=["grains.items"]))
    server.submit("hv2", MineGet(999, "hv2", funs=["grains.items"]))
    busy = [rec for mid, rec in server.sent if rec.error == BUSY]
    assert busy and all(mid == "hv1" for mid, _ in server.sent)  # refused at once, not queued
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(mid == "hv2" for mid, _ in server.sent):
        select.select([server.fd], [], [], 0.5)
        server.drain()
    answered = [rec for mid, rec in server.sent if mid == "hv2"]
    assert answered == [MineData(999, {"grains.items": {"hv2": GRAINS["hv2"]}})]
    server.keep_only(["hv1", "hv2"])
    server.submit("hv1", MineGet(1000, "*", funs=["grains.items"]))
    while time.monotonic() < deadline and not any(rec.rid == 1000 for _, rec in server.sent):
        select.select([server.fd], [], [], 0.5)
        server.drain()
    final = [rec for _, rec in server.sent if rec.rid == 1000]
    assert final and list(final[0].data["grains.items"]) == ["hv1", "hv2"]


def test_a_minion_writing_too_fast_is_told_busy_others_are_not(server):
    for n in range(int(mine_mod.WRITE_BURST) + 5):
        server.submit("hv1", MineUpdate(100 + n, [MineEntry("x", n)]))
    server.submit("hv2", MineUpdate(200, [MineEntry("x", 1)]))
    busy = [(mid, rec.rid) for mid, rec in server.sent if rec.error == BUSY]
    assert busy and {mid for mid, _ in busy} == {"hv1"}
    assert server.stats["busy"] == len(busy)
