"""The master's file server on real directories: safe paths, symlinks out, chunks, hash cache,
listing, per-minion pillar, bounded queues, and that answers arrive through the eventfd."""

from __future__ import annotations

import os
import select
import time

import pytest

from pvc.master.fileserver import PER_MINION, FileServer
from pvc.wire.files import CHUNK, MISSING, FileData, FileReq, Listing, ListReq, PillarData, PillarReq


@pytest.fixture
def roots(tmp_path):
    salt, pillar = tmp_path / "salt", tmp_path / "pillar"
    (salt / "a").mkdir(parents=True)
    pillar.mkdir()
    (salt / "top.sls").write_text("base: {}\n")
    (salt / "a" / "b.sls").write_text("x: 1\n")
    (salt / "big").write_bytes(os.urandom(2 * CHUNK + 5))
    (salt / "out").symlink_to("/etc/passwd")
    (salt / "dirlink").symlink_to("/etc")
    (salt / "fifo").parent.mkdir(exist_ok=True)
    os.mkfifo(salt / "fifo")
    (pillar / "top.sls").write_text("base:\n  'hv1':\n    - s\n")
    (pillar / "s.sls").write_text("key: {{ grains.role }}\n")
    return salt, pillar


@pytest.fixture
def server(roots):
    sent: list[tuple[str, object]] = []
    grains = {"hv1": {"role": "web"}}
    fs = FileServer({"base": [str(roots[0])]}, {"base": [str(roots[1])]}, grains, lambda mid, rec: sent.append((mid, rec)))
    fs.sent = sent  # type: ignore[attr-defined]
    yield fs
    fs.close()


def _ask(fs: FileServer, mid: str, req):
    return fs.answer(mid, req, fs.grains.get(mid, {}))


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "salt://../../etc/shadow", "a\x00b",
                                  "a\\..\\b", "out", "dirlink/passwd", "a/" * 513])
def test_refused(server, path):
    answer = _ask(server, "hv1", FileReq(1, path))
    assert answer.error.startswith("refused") and not answer.data
    assert server.stats["refused"] == 1


def test_not_regular_files_and_missing(server):
    assert _ask(server, "hv1", FileReq(1, "fifo")).error == MISSING
    assert _ask(server, "hv1", FileReq(1, "a")).error == MISSING  # a directory
    assert _ask(server, "hv1", FileReq(1, "nope")).error == MISSING
    assert _ask(server, "hv1", FileReq(1, "a/b.sls", saltenv="prod")).error.startswith("refused: no environment")


def test_chunks_hash_and_same(server, roots):
    first = _ask(server, "hv1", FileReq(1, "salt://big"))
    assert len(first.data) == CHUNK and first.size == 2 * CHUNK + 5
    last = _ask(server, "hv1", FileReq(2, "big", offset=2 * CHUNK, have=first.hash))
    assert len(last.data) == 5
    assert _ask(server, "hv1", FileReq(3, "big", have=first.hash)).same
    (roots[0] / "big").write_bytes(b"changed")
    changed = _ask(server, "hv1", FileReq(4, "big", offset=CHUNK, have=first.hash))
    assert changed.error == "changed during the transfer"
    assert _ask(server, "hv1", FileReq(5, "big", have=first.hash)).data == b"changed"


def test_listing(server):
    assert _ask(server, "hv1", ListReq(1)).paths == ["a/b.sls", "big", "fifo", "top.sls"]
    assert _ask(server, "hv1", ListReq(1, "a")).paths == ["a/b.sls"]
    assert _ask(server, "hv1", ListReq(1, "", dirs=True)).paths == ["a"]
    assert _ask(server, "hv1", ListReq(1, "../")).error.startswith("refused")


def test_pillar_is_rendered_for_the_asking_minion(server):
    assert _ask(server, "hv1", PillarReq(1)).pillar == {"key": "web"}
    assert _ask(server, "hv2", PillarReq(1)).pillar == {}


def test_answers_come_back_through_the_eventfd(server):
    server.submit("hv1", FileReq(1, "top.sls"))
    server.submit("hv1", PillarReq(2))
    deadline = time.monotonic() + 10
    while len(server.sent) < 2 and time.monotonic() < deadline:
        select.select([server.fd], [], [], 0.5)
        server.drain()
    kinds = {type(rec) for _, rec in server.sent}
    assert kinds == {FileData, PillarData} and all(mid == "hv1" for mid, _ in server.sent)


def test_a_minion_flooding_requests_gets_busy_answers(server):
    for n in range(PER_MINION * 3):
        server.submit("hv1", FileReq(n, "big"))
    busy = [rec for _, rec in server.sent if rec.error.startswith("file server busy")]
    assert len(busy) >= PER_MINION  # refused at once, not queued without bound
    server.submit("hv2", ListReq(1))  # another minion is still served
    deadline = time.monotonic() + 20
    while not any(mid == "hv2" for mid, _ in server.sent) and time.monotonic() < deadline:
        select.select([server.fd], [], [], 0.5)
        server.drain()
    assert any(mid == "hv2" and isinstance(rec, Listing) for mid, rec in server.sent)
