"""The minion's state tree over a link to a real file server (in process): cache by hash,
chunked downloads checked against the master's hash, local tampering healed, busy retried."""

from __future__ import annotations

import itertools
import os

import pytest

from pvc.master.fileserver import FileServer
from pvc.states.fileclient import FetchError, RemoteTree, fetch_pillar
from pvc.states.tree import UnsafePath
from pvc.wire.files import BUSY, CHUNK, FileData


class Link:
    """A MasterLink that asks a real FileServer directly (no sockets): optionally busy at first."""

    def __init__(self, server: FileServer, cache_dir: str, busy: int = 0) -> None:
        self.server, self.cache_dir, self.busy = server, cache_dir, busy
        self._rids = itertools.count(1)

    def next_rid(self) -> int:
        return next(self._rids)

    def request(self, rec):
        if self.busy:
            self.busy -= 1
            return FileData(rec.rid, error=BUSY)
        return self.server.answer("hv1", rec, {"role": "web"})


@pytest.fixture
def setup(tmp_path):
    salt, pillar = tmp_path / "salt", tmp_path / "pillar"
    salt.mkdir()
    pillar.mkdir()
    (salt / "top.sls").write_text("base: {}\n")
    (salt / "big.bin").write_bytes(os.urandom(3 * CHUNK + 7))
    (pillar / "top.sls").write_text("base:\n  '*':\n    - p\n")
    (pillar / "p.sls").write_text("role: {{ grains.role }}\n")
    server = FileServer({"base": [str(salt)]}, {"base": [str(pillar)]}, {}, lambda mid, rec: None)
    yield salt, Link(server, str(tmp_path / "cache"))
    server.close()


def test_second_tree_moves_nothing_and_a_change_moves_one_file(setup):
    salt, link = setup
    first = RemoteTree(link)
    assert first.read("top.sls") == b"base: {}\n" and first.read("salt://big.bin") == (salt / "big.bin").read_bytes()
    assert (first.stats.fetched, first.stats.bytes) == (2, 9 + 3 * CHUNK + 7)
    second = RemoteTree(link)
    second.read("top.sls")
    second.read("big.bin")
    assert (second.stats.same, second.stats.bytes, second.stats.requests) == (2, 0, 2)
    (salt / "top.sls").write_text("base: {'*': [x]}\n")
    third = RemoteTree(link)
    assert third.read("top.sls") == b"base: {'*': [x]}\n" and third.read("big.bin")
    assert (third.stats.fetched, third.stats.same) == (1, 1)


def test_a_tampered_cache_is_fetched_again(setup):
    _, link = setup
    tree = RemoteTree(link)
    tree.read("top.sls")
    with open(tree.cached_path("top.sls"), "w") as fh:
        fh.write("evil: true\n")
    again = RemoteTree(link)
    assert again.read("top.sls") == b"base: {}\n" and again.stats.fetched == 1


def test_missing_refused_and_listing(setup):
    _, link = setup
    tree = RemoteTree(link)
    assert tree.read("nope.sls") is None
    with pytest.raises(UnsafePath):
        tree.read("../etc/passwd")  # refused on the minion already
    assert tree.listing("") == ["big.bin", "top.sls"]
    with pytest.raises(UnsafePath):
        RemoteTree(link, "../x")


def test_busy_is_retried_and_pillar_comes_rendered(setup, monkeypatch):
    _, link = setup
    link.busy = 3
    assert fetch_pillar(link) == {"role": "web"}
    monkeypatch.setattr("pvc.states.fileclient.BUSY_RETRIES", 2)
    link.busy = 100
    with pytest.raises(FetchError, match="busy"):
        RemoteTree(link).read("top.sls")
