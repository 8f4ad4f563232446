"""The minion's spool: round trip, restarts, SIGKILL, torn tails, bounds, compaction, speed."""

from __future__ import annotations

import itertools
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import pvc.minion.spool as spool_mod
from pvc.errors import PvcError
from pvc.minion.spool import Spool, SpoolError


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def payload(i: int) -> bytes:
    return f"return-{i}-".encode() * (1 + i % 5)


def test_round_trip(tmp_path: Path) -> None:
    with Spool(str(tmp_path / "m.log")) as sp:
        sp.started("j1", "test.ping")
        sp.started("j2", "cmd.run")
        sp.put("j2", b"two")
        sp.put("j1", b"one")
        assert sp.pending() == [("j2", b"two"), ("j1", b"one")]
        assert sp.interrupted() == []
        sp.ack("j2")
        sp.ack("unknown")  # acks for jids the spool never saw are ignored
        assert sp.pending() == [("j1", b"one")]
        assert sp.stats.live_bytes > 0
        sp.ack("j1")
        assert sp.pending() == [] and sp.stats.live_bytes == 0


def test_reopen_keeps_unacked_and_reports_interrupted(tmp_path: Path) -> None:
    path = str(tmp_path / "spool" / "m.log")
    with Spool(path) as sp:
        sp.started("done", "test.ping")
        sp.put("done", b"ret")
        sp.started("acked", "test.ping")
        sp.put("acked", b"x")
        sp.ack("acked")
        sp.started("running", "vm.migrate")
    with Spool(path) as sp:
        assert sp.pending() == [("done", b"ret")]
        assert sp.interrupted() == [("running", "vm.migrate")]
        sp.put("running", b"minion restarted during the job")  # the caller's report replaces it
        sp.started("new", "test.ping")
        assert sp.interrupted() == []  # only jobs started before this open
    with Spool(path) as sp:
        assert sp.pending() == [("done", b"ret"), ("running", b"minion restarted during the job")]
        assert sp.interrupted() == [("new", "test.ping")]


def test_modes(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "m.log"
    Spool(str(path)).close()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    path.chmod(0o644)
    Spool(str(path)).close()
    assert path.stat().st_mode & 0o777 == 0o600


CHILD = textwrap.dedent("""
    import sys
    import pvc.minion.spool as spool_mod
    spool_mod.COMPACT_MIN = 16384  # compact often, so that kills land inside compactions too
    sp = spool_mod.Spool(sys.argv[1])
    out = sys.stdout
    for i in range(10**7):
        jid = f"j{i:08d}"
        sp.started(jid, "test.ping")
        if i % 7 == 0:
            out.write(f"S {jid}\\n"); out.flush()
            continue
        sp.put(jid, jid.encode() * (1 + i % 4))
        out.write(f"P {jid}\\n"); out.flush()
        if i % 3 == 0:
            sp.ack(jid)
            out.write(f"A {jid}\\n"); out.flush()
""")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_mid_burst_loses_nothing_put(tmp_path: Path, seed: int) -> None:
    path = str(tmp_path / "m.log")
    child = subprocess.Popen([sys.executable, "-c", CHILD, path], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    assert child.stdout is not None
    lines: list[list[str]] = []
    kill_after = random.Random(seed).randint(300, 6000)
    while len(lines) < kill_after:
        line = child.stdout.readline()
        assert line, f"child exited early with {child.wait()}"
        lines.append(line.split())
    os.kill(child.pid, signal.SIGKILL)
    lines += [line.split() for line in child.stdout.read().splitlines(keepends=True) if line.endswith("\n")]
    assert child.wait() == -signal.SIGKILL
    put = {jid for op, jid in lines if op == "P"}
    acked = {jid for op, jid in lines if op == "A"}
    started_only = {jid for op, jid in lines if op == "S"}
    with Spool(path) as sp:
        pending = dict(sp.pending())
        interrupted = {jid for jid, _ in sp.interrupted()}
        assert sp.stats.dropped == 0
    op, jid = lines[-1]
    in_flight = {jid} if op == "P" and int(jid[1:]) % 3 == 0 else set()  # acked, "A" not yet printed
    for jid in put - acked - in_flight:
        assert pending.get(jid) == jid.encode() * (1 + int(jid[1:]) % 4), jid
    assert not acked & pending.keys()
    assert started_only <= interrupted
    assert len(put - acked) > 100


def _history(path: str) -> list[tuple[int, list[tuple[str, bytes]], list[tuple[str, str]]]]:
    """Run a scripted series of calls; after each, note (file size, pending, started jobs)."""
    rng = random.Random(7)
    sp = Spool(path)
    started: dict[str, str] = {}
    history: list[tuple[int, list[tuple[str, bytes]], list[tuple[str, str]]]] = [(os.path.getsize(path), [], [])]
    for i in range(120):
        jid = f"j{i:04d}"
        sp.started(jid, f"mod.fun{i % 3}")
        started[jid] = f"mod.fun{i % 3}"
        history.append((os.path.getsize(path), sp.pending(), list(started.items())))
        if rng.random() < 0.8:
            sp.put(jid, payload(i))
            del started[jid]
            history.append((os.path.getsize(path), sp.pending(), list(started.items())))
        if i > 3 and rng.random() < 0.5:
            victim = sp.pending()[0][0]
            sp.ack(victim)
            history.append((os.path.getsize(path), sp.pending(), list(started.items())))
    sp.close()
    return history


def test_torn_tail_keeps_every_complete_record(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    full = str(tmp_path / "full.log")
    history = _history(full)
    data = Path(full).read_bytes()
    assert history[-1][0] == len(data)
    rng = random.Random(14)
    cuts = [0, 1, len(data) - 1] + [rng.randrange(len(data)) for _ in range(150)]
    for n, cut in enumerate(cuts):
        torn = tmp_path / f"torn{n}.log"
        torn.write_bytes(data[:cut])
        size, pending, started = max((h for h in history if h[0] <= cut), key=lambda h: h[0],
                                     default=(0, [], []))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="pvc.minion.spool"), Spool(str(torn)) as sp:
            assert sp.pending() == pending, cut
            assert sp.interrupted() == started, cut
            sp.put("after", b"tear")  # and it is writable again
        assert len(caplog.records) == (cut != size)  # the tear is logged once
        with Spool(str(torn)) as sp:
            assert sp.pending() == pending + [("after", b"tear")]


def test_corrupt_record_and_zero_fill(tmp_path: Path) -> None:
    path = tmp_path / "m.log"
    with Spool(str(path)) as sp:
        sp.put("a", b"1")
        end_a = path.stat().st_size
        sp.put("b", b"2")
        sp.put("c", b"3")
    data = bytearray(path.read_bytes())
    data[end_a + 10] ^= 0xFF  # inside b's record: b and everything after it are untrusted
    path.write_bytes(bytes(data) + b"\0" * 4096)
    with Spool(str(path)) as sp:
        assert sp.pending() == [("a", b"1")]
    assert path.stat().st_size == end_a
    path.write_bytes(path.read_bytes() + b"\0" * 4096)  # power loss: a zero-filled tail
    with Spool(str(path)) as sp:
        assert sp.pending() == [("a", b"1")]


def test_byte_bound_drops_oldest_and_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "m.log"
    with caplog.at_level(logging.WARNING, logger="pvc.minion.spool"), Spool(str(path), max_bytes=8192) as sp:
        for i in range(200):
            sp.put(f"j{i:03d}", b"x" * 100)
            assert path.stat().st_size <= 8192
        kept = sp.pending()
        assert kept == [(f"j{i:03d}", b"x" * 100) for i in range(200 - len(kept), 200)]
        assert sp.stats.live_bytes <= 4096 and len(kept) > 20
        assert sp.stats.dropped == 200 - len(kept)
        assert sp.stats.dropped_bytes >= 100 * sp.stats.dropped
        assert [r.levelno for r in caplog.records] == [logging.WARNING]  # one per burst
        assert "8192 bytes" in caplog.records[0].getMessage()
        sp.put("huge", b"y" * 5000)  # larger than the bound on its own: dropped, nothing evicted
        assert sp.pending() == kept and sp.stats.dropped == 201 - len(kept)
        assert "huge" in caplog.records[-1].getMessage()
    with Spool(str(path), max_bytes=2048) as sp:  # the bound shrank across a restart
        assert sp.pending() == kept[-len(sp.pending()):] and sp.stats.dropped > 0
        assert sp.stats.live_bytes <= 1024


def test_age_bound_expires_oldest(tmp_path: Path) -> None:
    path = str(tmp_path / "m.log")
    clock = Clock()
    with Spool(path, max_age=3600, clock=clock) as sp:
        sp.put("old", b"1")
        clock.now += 1800
        sp.put("mid", b"2")
        sp.started("run", "test.ping")
        clock.now += 1801
        assert sp.pending() == [("mid", b"2")]
        assert sp.stats.expired == 1 and sp.stats.dropped == 0
        sp.put("new", b"3")
    clock.now += 1800
    with Spool(path, max_age=3600, clock=clock) as sp:
        assert sp.pending() == [("new", b"3")]
        assert sp.interrupted() == []  # started longer than max_age ago: too old to report
        assert sp.stats.expired == 2
    clock.now += 10**6
    with Spool(path, max_age=0, clock=clock) as sp:  # 0: no age limit
        assert sp.pending() == [("new", b"3")]


def test_compaction_keeps_live_set_and_shrinks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool_mod, "COMPACT_MIN", 64 << 10)
    path = tmp_path / "m.log"
    sizes = []
    with Spool(str(path)) as sp:
        for i in range(5000):
            jid = f"j{i:05d}"
            sp.started(jid, "test.ping")
            sp.put(jid, payload(i))
            if i % 500:
                sp.ack(jid)
            sizes.append(path.stat().st_size)
        live = [(f"j{i:05d}", payload(i)) for i in range(0, 5000, 500)]
        assert sp.pending() == live
        assert max(sizes) <= 2 * (64 << 10) + 1024
        assert any(b < a for a, b in itertools.pairwise(sizes))  # it did compact
    assert not (tmp_path / "m.log.tmp").exists()
    with Spool(str(path)) as sp:
        assert sp.pending() == live


def test_leftover_temp_file_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "m.log"
    with Spool(str(path)) as sp:
        sp.put("a", b"1")
    (tmp_path / "m.log.tmp").write_bytes(b"half a compaction")
    with Spool(str(path)) as sp:
        assert sp.pending() == [("a", b"1")]
    assert not (tmp_path / "m.log.tmp").exists()


def test_fsync_mode(tmp_path: Path) -> None:
    path = str(tmp_path / "m.log")
    with Spool(path, fsync=True) as sp:
        sp.started("a", "test.ping")
        sp.put("a", b"1")
    with Spool(path, fsync=True) as sp:
        assert sp.pending() == [("a", b"1")]


def test_unopenable_spools_raise_naming_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SpoolError, match=str(blocker / "m.log")) as err:
        Spool(str(blocker / "m.log"))
    assert isinstance(err.value, PvcError)
    alien = tmp_path / "alien.log"
    alien.write_bytes(b"some other file that happens to be here, long enough to not be torn")
    with pytest.raises(SpoolError, match="not a pvc spool"):
        Spool(str(alien))
    assert alien.read_bytes().startswith(b"some other file")  # left alone
    newer = tmp_path / "newer.log"
    newer.write_bytes(spool_mod._frame([spool_mod.HEADER, spool_mod.MAGIC, 99]))
    with pytest.raises(SpoolError, match="version 99"):
        Spool(str(newer))


FULL_DISK_CHILD = textwrap.dedent("""
    import resource, signal, sys
    from pvc.minion.spool import Spool, SpoolError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
    sp = Spool(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_FSIZE, (20000, resource.RLIM_INFINITY))
    kept = 0
    try:
        while True:
            sp.put(f"j{kept:05d}", b"z" * 333)
            kept += 1
    except SpoolError as exc:
        assert sys.argv[1] in str(exc), exc
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    sp.put("after", b"room again")
    sp.close()
    print(kept)
""")


def test_failed_write_raises_and_leaves_a_clean_log(tmp_path: Path) -> None:
    path = str(tmp_path / "m.log")
    out = subprocess.run([sys.executable, "-c", FULL_DISK_CHILD, path], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], check=True).stdout
    kept = int(out)
    with Spool(path) as sp:
        assert sp.pending() == [(f"j{i:05d}", b"z" * 333) for i in range(kept)] + [("after", b"room again")]


def test_one_process_per_spool(tmp_path: Path) -> None:
    path = str(tmp_path / "m.log")
    with Spool(path), pytest.raises(SpoolError, match="in use"):
        Spool(path)
    sp = Spool(path)
    sp.close()
    with pytest.raises(SpoolError, match="closed"):
        sp.put("a", b"1")


def test_benchmark_put_ack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = os.urandom(300)  # about a sealed test.ping return
    with Spool(str(tmp_path / "m.log")) as sp:
        n, t0 = 30_000, time.perf_counter()
        for i in range(n):
            jid = f"20260101000000{i:06d}"
            sp.put(jid, body)
            sp.ack(jid)
        pairs = n / (time.perf_counter() - t0)
        n3, t0 = 10_000, time.perf_counter()
        for i in range(n3):
            jid = f"20260102000000{i:06d}"
            sp.started(jid, "test.ping")
            sp.put(jid, body)
            sp.ack(jid)
        jobs = n3 / (time.perf_counter() - t0)
    with capsys.disabled():
        print(f"\nspool: {pairs:,.0f} put+ack pairs/s, {jobs:,.0f} started+put+ack jobs/s (fsync off)")
    assert pairs > 1000  # a sanity floor only; the target on a quiet box is > 20,000


def test_an_ack_of_many_jids_is_one_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "m.log")
    with Spool(path) as sp:
        for jid in ("a", "b", "c"):
            sp.put(jid, jid.encode())
        writes: list[int] = []
        real_write = os.write
        monkeypatch.setattr(spool_mod.os, "write", lambda fd, data: writes.append(len(data)) or real_write(fd, data))
        sp.ack("a", "unknown", "c")
        assert len(writes) == 1 and sp.pending() == [("b", b"b")]
    monkeypatch.undo()
    with Spool(path) as sp:
        assert sp.pending() == [("b", b"b")]
