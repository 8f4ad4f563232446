"""The minion's file cache follows the master and stays bounded (pvc.states.filecache), through
RemoteTree over a real file server in process: a file deleted on the master leaves the cache
when asked for or when a listing no longer has it; past its byte bound the least recently used
files go, never the one just fetched nor a download in progress; a run whose file was evicted
under it fetches it again."""

from __future__ import annotations

import os
import time

import pytest

from pvc.master.fileserver import FileServer
from pvc.states import filecache
from pvc.states.fileclient import RemoteTree
from tests.states.test_fileclient import Link

KIB = 1024


@pytest.fixture
def served(tmp_path):
    salt = tmp_path / "salt"
    (salt / "web").mkdir(parents=True)
    for name in ("a", "b", "c"):
        (salt / "web" / f"{name}.conf").write_text(f"{name}\n")
    (salt / "top.sls").write_text("base: {}\n")
    server = FileServer({"base": [str(salt)]}, {}, {}, lambda mid, rec: None)
    yield salt, Link(server, str(tmp_path / "cache"))
    server.close()


def cached(link: Link) -> list[str]:
    root = link.cache_dir
    return sorted(os.path.relpath(os.path.join(here, n), root) for here, _, names in os.walk(root) for n in names)


def test_a_file_deleted_on_the_master_leaves_the_cache_when_asked_for(served):
    salt, link = served
    assert RemoteTree(link).read("web/a.conf") == b"a\n"
    (salt / "web" / "a.conf").unlink()
    assert RemoteTree(link).read("web/a.conf") is None
    assert cached(link) == []


def test_a_listing_prunes_what_it_no_longer_has_under_its_prefix_only(served):
    salt, link = served
    tree = RemoteTree(link)
    for path in ("top.sls", "web/a.conf", "web/b.conf", "web/c.conf"):
        tree.read(path)
    (salt / "web" / "b.conf").unlink()
    (salt / "top.sls").unlink()
    assert RemoteTree(link).list("web") == ["web/a.conf", "web/c.conf"]
    # top.sls lies outside the listed prefix: it stays until asked for or listed
    assert cached(link) == ["base/top.sls", "base/web/a.conf", "base/web/c.conf"]
    assert RemoteTree(link).listing("") == ["web/a.conf", "web/c.conf"]
    assert cached(link) == ["base/web/a.conf", "base/web/c.conf"]
    assert RemoteTree(link).listing("web", dirs=True) == []  # a directory listing prunes nothing
    assert cached(link) == ["base/web/a.conf", "base/web/c.conf"]


def test_past_its_bound_the_least_recently_used_go_first(served):
    salt, link = served
    for n in range(6):
        (salt / f"f{n}.bin").write_bytes(os.urandom(10 * KIB))
    first = RemoteTree(link, max_cache_bytes=35 * KIB)
    for n in range(3):
        first.read(f"f{n}.bin")
        os.utime(first.cached_path(f"f{n}.bin"), (1000 + n, 1000 + n))  # f0 oldest, f2 newest
    assert RemoteTree(link).read("f0.bin")  # a hit: f0 is now the most recently used
    second = RemoteTree(link, max_cache_bytes=35 * KIB)
    second.read("f3.bin")   # 40 KiB > 35: down to 31.5 KiB, f1 (the least recently used) goes
    assert cached(link) == ["base/f0.bin", "base/f2.bin", "base/f3.bin"]
    assert second.stats.fetched == 1


def test_the_file_just_fetched_stays_even_alone_over_the_bound(served):
    salt, link = served
    (salt / "big.bin").write_bytes(os.urandom(50 * KIB))
    tree = RemoteTree(link, max_cache_bytes=20 * KIB)
    tree.read("web/a.conf")
    assert len(tree.read("big.bin")) == 50 * KIB
    assert cached(link) == ["base/big.bin"]


def test_live_partial_downloads_are_left_stale_ones_evicted(served, tmp_path):
    _, link = served
    env = os.path.join(link.cache_dir, "base")
    os.makedirs(env)
    live, stale = os.path.join(env, filecache.PART + "live"), os.path.join(env, filecache.PART + "stale")
    for path in (live, stale):
        with open(path, "wb") as fh:
            fh.write(os.urandom(8 * KIB))
    old = time.time() - filecache.STALE_PART - 10
    os.utime(stale, (old, old))
    assert filecache.evict_lru(link.cache_dir, 0) == 0  # a live part is neither counted nor removed
    assert cached(link) == [f"base/{filecache.PART}live"]
    assert filecache.prune(env, "", set()) == 0


def test_a_file_evicted_while_a_run_reads_it_is_fetched_again(served, monkeypatch):
    _, link = served
    tree = RemoteTree(link)
    real_fetch = tree.fetch
    evicted = []

    def fetch_then_evict(rel: str) -> str | None:  # another run's eviction between fetch and read
        local = real_fetch(rel)
        if not evicted and local is not None:
            evicted.append(local)
            os.unlink(local)
        return local

    monkeypatch.setattr(tree, "fetch", fetch_then_evict)
    assert tree.read("web/c.conf") == b"c\n"
    assert evicted and tree.stats.fetched == 2
