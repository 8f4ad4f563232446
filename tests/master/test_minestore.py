"""pvc.master.minestore: the newest entry per minion and function, bounded per minion and in
all, on disk (atomic replace), back after a reopen; hostile or interrupted files on disk never
load."""

from __future__ import annotations

import os

import pytest

from pvc.master.minestore import Entry, MineFull, MineStore
from pvc.wire.codec import pack, unpack


def entry(value: object, tgt: str = "") -> Entry:
    return Entry(pack(value), tgt)


def data(store: MineStore, mid: str, fun: str) -> object:
    found = store.get(mid, fun)
    return None if found is None else unpack(found.packed)


def test_updates_merge_clear_delete_and_survive_a_reopen(tmp_path):
    store = MineStore(str(tmp_path), 4096, 65536)
    store.update("hv1", {"a": entry(1), "b": entry([1, 2])})
    store.update("hv1", {"a": entry(2)})                      # newest wins, b stays
    store.update("hv2", {"a": entry("x", "hv*")})
    assert (data(store, "hv1", "a"), data(store, "hv1", "b")) == (2, [1, 2])
    again = MineStore(str(tmp_path), 4096, 65536)
    assert (data(again, "hv1", "a"), data(again, "hv1", "b"), again.get("hv2", "a")) == (2, [1, 2], entry("x", "hv*"))
    assert again.sizes == store.sizes and again.used == store.used
    again.update("hv1", {"c": entry(3)}, clear=True)
    again.delete("hv2", ["a"])
    again.delete("ghost")
    reopened = MineStore(str(tmp_path), 4096, 65536)
    assert reopened.minions == {"hv1": {"c": entry(3)}}
    assert sorted(os.listdir(tmp_path)) == ["hv1.mine"]  # a minion without entries has no file


def test_bounds_refuse_and_keep_the_older_data(tmp_path):
    store = MineStore(str(tmp_path), 1000, 2500)
    store.update("hv1", {"a": entry("x" * 800)})
    with pytest.raises(MineFull, match="more than the 1000"):
        store.update("hv1", {"b": entry("y" * 300)})
    assert data(store, "hv1", "a") == "x" * 800 and store.get("hv1", "b") is None
    store.update("hv2", {"a": entry("x" * 800)})
    store.update("hv3", {"a": entry("x" * 800)})
    with pytest.raises(MineFull, match="mine is full"):
        store.update("hv4", {"a": entry("x" * 800)})
    store.update("hv3", {"a": entry("small")})  # shrinking is always allowed
    store.update("hv4", {"a": entry("x" * 500)})
    assert store.used <= 2500 and sum(os.path.getsize(tmp_path / f) for f in os.listdir(tmp_path)) == store.used
    assert MineStore(str(tmp_path), 1000, 2500).used == store.used


def test_keep_only_forgets_deleted_keys(tmp_path):
    store = MineStore(str(tmp_path), 4096, 65536)
    for mid in ("hv1", "hv2", "old"):
        store.update(mid, {"a": entry(mid)})
    assert store.keep_only({"hv1", "hv2", "never-sent"}) == ["old"]
    assert sorted(MineStore(str(tmp_path), 4096, 65536).minions) == ["hv1", "hv2"]


def test_hostile_interrupted_and_oversized_files_never_load(tmp_path):
    store = MineStore(str(tmp_path), 4096, 65536)
    store.update("hv1", {"a": entry(1)})
    (tmp_path / ".tmp-crashed").write_bytes(b"half a write")
    (tmp_path / "bad1.mine").write_bytes(b"\xc1garbage")
    (tmp_path / "bad2.mine").write_bytes(pack({"a": [b"x", 3, "glob"]}))   # allow_tgt not text
    (tmp_path / "bad3.mine").write_bytes(pack({"a": ["x" * 5000, "", "glob"]}))  # past per_minion
    (tmp_path / "..mine").write_bytes(pack({}))                               # not a minion id: ignored
    (tmp_path / "notes.txt").write_text("ignored")
    loaded = MineStore(str(tmp_path), 4096, 65536)
    assert list(loaded.minions) == ["hv1"]
    names = sorted(os.listdir(tmp_path))
    assert ".tmp-crashed" not in names
    assert {"bad1.mine.bad", "bad2.mine.bad", "bad3.mine.bad", "hv1.mine"} <= set(names)


def test_files_left_out_when_the_total_bound_shrank(tmp_path):
    store = MineStore(str(tmp_path), 4096, 65536)
    for mid in ("a1", "a2", "a3"):
        store.update(mid, {"f": entry("x" * 1000)})
    smaller = MineStore(str(tmp_path), 4096, 2100)
    assert sorted(smaller.minions) == ["a1", "a2"] and smaller.used <= 2100
