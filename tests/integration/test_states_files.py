"""States through a real master: file_roots and pillar over the sealed channel, top.sls, caching,
pillar isolation between two real minions, and traversal attempts from a hostile minion."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from pvc.wire.files import CHUNK, MISSING, FileData, FileReq, Listing, ListReq, PillarData, PillarReq
from tests.cluster.pvc import PvcCluster
from tests.cluster.rogue import RogueMinion

TOP = """base:
  '*':
    - motd
  'role:web':
    - match: grain
    - web
  'm2':
    - match: list
    - big
"""
MOTD = """{% from "motd/map.jinja" import motd with context %}
{{ grains.id }}-motd:
  file.managed:
    - name: {{ out }}/{{ grains.id }}/motd
    - makedirs: true
    - contents: "{{ motd.greeting }} {{ grains.id }} secret={{ pillar.get('secret', 'none') }}"
"""
MAP = """{% set motd = {"greeting": "hello"} %}"""
WEB = """web_ok:
  test.succeed_without_changes
"""
BIG = """big_ok:
  test.succeed_without_changes:
    - name: "{{ salt['pillar.get']('size', 0) if false else 'big' }}"
"""
PILLAR_TOP = """base:
  'm1':
    - m1
  'm2':
    - m2
"""


def _tree(root: Path, out: Path) -> tuple[Path, Path]:
    salt, pillar = root / "srv" / "salt", root / "srv" / "pillar"
    (salt / "motd").mkdir(parents=True)
    pillar.mkdir(parents=True)
    (salt / "top.sls").write_text(TOP)
    (salt / "motd" / "init.sls").write_text(MOTD.replace("{{ out }}", str(out)))
    (salt / "motd" / "map.jinja").write_text(MAP)
    (salt / "web.sls").write_text(WEB)
    (salt / "big.sls").write_text(BIG)
    (salt / "broken.sls").write_text("nope:\n  test.fail_without_changes: []\nafter:\n  test.nop:\n    - require: [nope]\n")
    (salt / "blob.bin").write_bytes(os.urandom(3 * CHUNK + 123))
    (salt / "escape").symlink_to("/etc/passwd")
    (pillar / "top.sls").write_text(PILLAR_TOP)
    (pillar / "m1.sls").write_text("secret: m1-only-{{ grains.id }}\n")
    (pillar / "m2.sls").write_text("secret: m2-only\n")
    return salt, pillar


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("statefiles")
    out = root / "out"
    salt, pillar = _tree(root, out)
    with PvcCluster(root, master_options={"file_roots": {"base": [str(salt)]},
                                          "pillar_roots": {"base": [str(pillar)]}}) as c:
        c.start_master()
        c.add_minion("m1", grains={"role": "web"})
        c.add_minion("m2", grains={"role": "db"})
        c.wait_connected(["m1", "m2"])
        c.out = out  # type: ignore[attr-defined]
        c.salt = salt  # type: ignore[attr-defined]
        yield c


def _apply(c: PvcCluster, mid: str, fun: str = "state.highstate", **kwargs) -> dict:
    ret = c.client().run([mid], fun, [], kwargs, timeout=60).returns[mid]
    assert ret.ok, ret.error
    return ret.data


def _fetch_stats(c: PvcCluster, mid: str) -> tuple[int, int, int, int]:
    """The last "state tree from the master" line of the minion's log: requests, bytes, same, fetched."""
    text = (c.minion_dir(mid) / "root" / "log" / "minion").read_text()
    found = re.findall(r"state tree from the master: (\d+) requests, (\d+) bytes received, (\d+) files current "
                       r"in the cache, (\d+) fetched", text)
    assert found, "no fetch statistics logged"
    requests, received, same, fetched = map(int, found[-1])
    return requests, received, same, fetched


def test_highstate_through_the_master_uses_top_map_and_pillar(cluster):
    data = _apply(cluster, "m1")
    assert {v["__sls__"] for v in data.values()} == {"motd", "web"}  # glob + grain matchers
    assert all(v["result"] is True for v in data.values()), data
    assert (cluster.out / "m1" / "motd").read_text() == "hello m1 secret=m1-only-m1\n"
    again = _apply(cluster, "m1")
    assert all(v["result"] is True and not v["changes"] for v in again.values()), again


def test_second_highstate_transfers_only_what_changed(cluster):
    _apply(cluster, "m1")
    _apply(cluster, "m1")
    requests, received, same, fetched = _fetch_stats(cluster, "m1")
    # top, motd/init, motd/map, web current; one more request found no motd.sls (motd is motd/init.sls)
    assert (requests, received, same, fetched) == (5, 0, 4, 0)
    motd = cluster.salt / "motd" / "init.sls"
    motd.write_text(motd.read_text() + "\n# changed\n")
    _apply(cluster, "m1")
    requests, received, same, fetched = _fetch_stats(cluster, "m1")
    assert fetched == 1 and received == len(motd.read_bytes()) and same == 3


def test_test_mode_changes_nothing_on_disk(cluster):
    target = cluster.out / "m2" / "motd"
    assert not target.exists()
    data = _apply(cluster, "m2", "state.apply", test=True)
    motd = next(v for v in data.values() if v["__sls__"] == "motd")
    assert motd["result"] is None and motd["changes"]
    assert not target.exists()


def test_pillar_is_per_minion(cluster):
    _apply(cluster, "m2", "state.apply", mods="motd")
    text = (cluster.out / "m2" / "motd").read_text()
    assert "secret=m2-only" in text and "m1-only" not in text
    assert _apply(cluster, "m2", "state.show_top") == {"base": ["motd", "big"]}  # list matcher, not web


@pytest.mark.parametrize("saltenv, message", [("../../tmp", "saltenv '../../tmp'"),
                                              ("prod", "no environment 'prod'")])
def test_bad_or_unknown_saltenv_is_a_clear_error(cluster, saltenv, message):
    ret = cluster.client().run(["m1"], "state.apply", [], {"saltenv": saltenv}, timeout=30).returns["m1"]
    assert not ret.ok and message in ret.error


@pytest.fixture
def evil(cluster):
    rogue = RogueMinion(cluster, f"evil{os.urandom(3).hex()}")
    assert rogue.auth() == "accepted"
    rogue.drain_down(0.3)
    yield rogue
    rogue.close()


def _answer(rogue: RogueMinion, req, kind):
    rogue.send_up(req)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        rec = rogue.recv_down(0.5)
        if isinstance(rec, kind) and rec.rid == req.rid:
            return rec
    raise AssertionError(f"no answer to {req}")


def test_a_minion_gets_only_its_own_pillar(cluster, evil):
    answer = _answer(evil, PillarReq(1), PillarData)
    assert answer.pillar == {} and not answer.error  # the pillar top gives a stranger id nothing
    # m1's pillar reaches m1 alone: a box claiming to be m1's from evil's connection is refused
    evil.send_channel(evil.seal_plain({"t": "pillar_req", "rid": 2}, mid="m1"))
    assert all(not isinstance(r, PillarData) or "m1-only" not in str(r.pillar) for r in evil.drain_down(1.0))


@pytest.mark.parametrize("path", ["../../etc/shadow", "salt://../../etc/shadow", "/etc/shadow",
                                  "motd/../../../etc/shadow", "motd\x00.sls", "escape", "motd\\..\\x"])
def test_traversal_refused_and_logged(cluster, evil, path):
    answer = _answer(evil, FileReq(7, path), FileData)
    assert answer.error.startswith("refused") and not answer.data
    log = (cluster.master_dir / "root" / "log" / "master").read_text()
    assert "refused a file request" in log
    _alive(cluster)


def test_too_long_path_is_dropped_and_nothing_breaks(cluster, evil):
    evil.send_plain({"t": "file_req", "rid": 9, "path": "a/" * 2000})
    assert not any(isinstance(r, FileData) for r in evil.drain_down(1.0))
    _alive(cluster)


def test_missing_files_listing_and_chunked_download(cluster, evil):
    assert _answer(evil, FileReq(3, "nope.sls"), FileData).error == MISSING
    listing = _answer(evil, ListReq(4, ""), Listing)
    assert "top.sls" in listing.paths and "motd/map.jinja" in listing.paths and "escape" not in listing.paths
    blob = (cluster.salt / "blob.bin").read_bytes()
    got, offset, digest = b"", 0, ""
    while True:
        piece = _answer(evil, FileReq(10 + offset, "blob.bin", offset=offset, have=digest), FileData)
        assert not piece.error and len(piece.data) <= CHUNK
        got += piece.data
        offset, digest = offset + len(piece.data), piece.hash
        if offset >= piece.size:
            break
    assert got == blob
    assert _answer(evil, FileReq(99, "blob.bin", have=digest), FileData).same


def _cli(c: PvcCluster, *args: str):
    return c.pvc("state", args[0], "-c", str(c.master_dir), *args[1:], timeout=120)


def test_cli_apply_prints_salt_highstate_output(cluster):
    proc = _cli(cluster, "apply", "motd", "m1")
    assert proc.returncode == 0, proc.stderr
    for text in ("m1:", "ID: m1-motd", "Function: file.managed", "Result: True", "Summary for m1",
                 "Succeeded: 1", "Failed:    0", "Total states run:     1", "Total run time:"):
        assert text in proc.stdout, (text, proc.stdout)


def test_pvc_run_prints_state_runs_as_highstate_output(cluster):
    proc = cluster.pvc("run", "m1", "state.apply", "motd")
    assert proc.returncode == 0 and "Summary for m1" in proc.stdout and "ID: m1-motd" in proc.stdout


def test_cli_failed_state_exits_1_with_requisite_comment(cluster):
    proc = _cli(cluster, "apply", "broken", "m1")
    assert proc.returncode == 1
    assert "Failed:    2" in proc.stdout and "One or more requisite failed" in proc.stdout


def test_cli_highstate_json_in_salts_shape_with_test_and_pillar(cluster):
    import json

    proc = _cli(cluster, "highstate", "-L", "m1,m2", "--test", "--pillar", '{"secret": "override"}', "--out", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {"m1", "m2"}
    tag = f"file_|-m1-motd_|-{cluster.out}/m1/motd_|-managed"
    assert data["m1"][tag]["__sls__"] == "motd" and data["m1"][tag]["__run_num__"] == 0
    assert data["m1"][tag]["result"] is None and "override" in str(data["m1"][tag]["changes"])
    assert "secret=m1-only" in (cluster.out / "m1" / "motd").read_text()  # test mode wrote nothing


def test_cli_show_top_and_show_sls(cluster):
    import json

    top = _cli(cluster, "show_top", "m*", "--out", "json")  # (rogue minions of other tests: not m*)
    assert top.returncode == 0 and json.loads(top.stdout) == {"m1": {"base": ["motd", "web"]},
                                                             "m2": {"base": ["motd", "big"]}}
    shown = json.loads(_cli(cluster, "show_sls", "motd", "m1", "--out", "json").stdout)["m1"]
    assert shown["m1-motd"]["__sls__"] == "motd" and "managed" in shown["m1-motd"]["file"]


def test_cli_bad_input_is_one_line(cluster):
    proc = _cli(cluster, "apply", "motd", "m1", "--pillar", "[1, 2]")
    assert proc.returncode == 2 and proc.stderr.startswith("Error: --pillar must be a JSON object")
    proc = _cli(cluster, "apply", "nosuchsls", "m1")
    assert proc.returncode == 1 and "nosuchsls" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


def test_a_flood_of_big_file_requests_leaves_jobs_fast(cluster, evil):
    big = cluster.salt / "huge.bin"
    with big.open("wb") as fh:
        for _ in range(32):
            fh.write(os.urandom(1024 * 1024))
    for n in range(200):  # 200 chunk requests at once: 32 wait, the rest are told "busy"
        evil.send_up(FileReq(1000 + n, "huge.bin", offset=(n % 128) * CHUNK))
    start = time.monotonic()
    _alive(cluster)
    assert time.monotonic() - start < 3.0
    answers = [r for r in evil.drain_down(5.0) if isinstance(r, FileData)]
    busy = [r for r in answers if r.error.startswith("file server busy")]
    assert busy and len(answers) == 200 and all(len(r.data) == CHUNK for r in answers if not r.error)


def _alive(c: PvcCluster) -> None:
    assert c.procs["master"].poll() is None, "the master died"
    assert c.client().cmd(["m1", "m2"], "test.ping", timeout=5) == {"m1": True, "m2": True}
