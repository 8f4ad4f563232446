"""JobRunner: lanes that hung jobs cannot starve, deadlines, kill, queue bounds, active jobs.

The test thread plays the minion's loop thread: it waits on the runner's eventfd and runs the
callbacks, so ``done`` runs where it would in the daemon.
"""

from __future__ import annotations

import itertools
import select
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pvc.config import MinionConfig
from pvc.minion.functions import MinionFunctions
from pvc.minion.runner import JobRunner
from pvc.results import Return

_jids = itertools.count(1)


def _alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie waiting for its reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # gone, or going while we read
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _gone_within(pids: list[int], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < end:
        time.sleep(0.02)
    return not any(_alive(p) for p in pids)


def _pids(path: Path, count: int, seconds: float = 5.0) -> list[int]:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if path.exists():
            found = path.read_text().split()
            if len(found) >= count:
                return [int(p) for p in found[:count]]
        time.sleep(0.02)
    raise AssertionError(f"{path} did not get {count} pids")


class Loop:
    """Submits jobs the way MinionCore does and collects their returns on this thread."""

    def __init__(self, runner: JobRunner, funcs: MinionFunctions) -> None:
        self.runner = runner
        self.funcs = funcs
        self.results: dict[str, list[tuple[float, Return]]] = {}

    def submit(self, fun: str, *args: Any, **kwargs: Any) -> str:
        jid = f"j{next(_jids):06d}"
        self.results[jid] = []
        self.runner.submit(lambda: self.funcs.call(fun, args, kwargs, jid=jid),
                           lambda ret: self.results[jid].append((time.monotonic(), ret)), jid=jid, fun=fun)
        return jid

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            select.select([self.runner.fd], [], [], left)
            self.runner.run_pending()

    def wait(self, jid: str, seconds: float) -> Return:
        end = time.monotonic() + seconds
        while not self.results[jid]:
            left = end - time.monotonic()
            assert left > 0, f"no return for {jid} within {seconds} s"
            select.select([self.runner.fd], [], [], left)
            self.runner.run_pending()
        return self.results[jid][0][1]

    def timed(self, fun: str, *args: Any, **kwargs: Any) -> tuple[float, Return]:
        start = time.monotonic()
        ret = self.wait(self.submit(fun, *args, **kwargs), 5)
        return time.monotonic() - start, ret


@pytest.fixture(scope="module")
def funcs() -> MinionFunctions:
    return MinionFunctions(MinionConfig(id="runner-test"), grains={"os": "Debian", "id": "runner-test"})


@pytest.fixture
def make(funcs: MinionFunctions) -> Iterator[Any]:
    made: list[JobRunner] = []

    def build(workers: int = 2, **options: Any) -> Loop:
        options.setdefault("kill_grace", 0.5)
        runner = JobRunner(workers, **options)
        made.append(runner)
        return Loop(runner, funcs)

    yield build
    for runner in made:
        runner.close()  # terminates the children of jobs still running


def test_fifty_hung_jobs_do_not_starve_cluster_work_or_ping(make: Any, funcs: MinionFunctions) -> None:
    loop = make(8, max_workers=64, cluster_workers=2, job_timeout=60)
    hung = [loop.submit(fun, arg) for _ in range(25) for fun, arg in (("cmd.run", "sleep 30"), ("test.sleep", 30))]
    loop.pump(0.3)
    running = [a for a in loop.runner.active() if a.state == "running"]
    assert len(running) == 50 and {a.lane for a in running} == {"general"}  # the lane grew to hold them
    for fun in ("grains.items", "sys.list_functions", "test.ping"):
        for _ in range(3):
            took, ret = loop.timed(fun)
            assert ret.ok and took < 1.0, (fun, took, ret)
    start = time.monotonic()
    assert funcs.call("test.ping").data is True and time.monotonic() - start < 1.0  # inline, as MinionCore runs it
    assert not any(loop.results[jid] for jid in hung)


def test_a_full_general_lane_queues_while_the_cluster_lane_answers(make: Any) -> None:
    loop = make(2, max_workers=3, queue_size=10, cluster_workers=1, job_timeout=60)
    hung = [loop.submit("cmd.run", "sleep 30") for _ in range(3)] + [loop.submit("test.sleep", 30) for _ in range(2)]
    loop.pump(0.2)
    states = {a.jid: (a.state, a.lane) for a in loop.runner.active()}
    assert sorted(states.values()) == [("queued", "general")] * 2 + [("running", "general")] * 3
    assert set(states) == set(hung)
    took, ret = loop.timed("grains.items")
    assert ret.ok and ret.data["os"] == "Debian" and took < 1.0


def test_lane_full_refuses_at_once_with_a_clear_error(make: Any) -> None:
    loop = make(1, max_workers=1, queue_size=1, job_timeout=60)
    loop.submit("test.sleep", 30)
    loop.submit("test.sleep", 30)
    loop.pump(0.1)
    took, ret = loop.timed("cmd.run", "echo hi")
    assert took < 0.5 and not ret.ok and ret.error_type == "MinionBusy"
    assert "general lane is full (1 jobs running, 1 queued); cmd.run refused" in ret.error
    took, ret = loop.timed("grains.items")  # the other lane is not full
    assert ret.ok and took < 1.0


def test_active_lists_jid_function_lane_and_age(make: Any) -> None:
    loop = make(2, job_timeout=60)
    jid = loop.submit("test.sleep", 30)
    other = loop.submit("cmd.run", "sleep 30")
    loop.pump(0.3)
    active = {a.jid: a for a in loop.runner.active()}
    assert set(active) == {jid, other}
    job = active[jid]
    assert (job.fun, job.lane, job.state) == ("test.sleep", "general", "running")
    assert 0.2 < job.age < 5 and abs(job.started - time.time()) < 5
    assert loop.runner.kill(other) == "killed"
    loop.wait(other, 2)
    assert [a.jid for a in loop.runner.active()] == [jid]


def test_cmd_timeout_ends_the_whole_process_tree(make: Any, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    loop = make(job_timeout=60)
    start = time.monotonic()
    jid = loop.submit("cmd.run", f"echo $$ > {pids}; sleep 30 & echo $! >> {pids}; wait", python_shell=True,
                      timeout=1)
    ret = loop.wait(jid, 5)
    assert time.monotonic() - start < 3
    assert not ret.ok and ret.error_type == "CommandTimeout" and "timed out after 1 s" in ret.error
    shell, grandchild = _pids(pids, 2)
    assert _gone_within([shell, grandchild], 1.5)


def test_job_timeout_ends_a_command_without_its_own_timeout(make: Any, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    loop = make(job_timeout=0.5)
    ret = loop.wait(loop.submit("cmd.run", f"sleep 30 & echo $! > {pids}; wait", python_shell=True), 5)
    assert ret.error_type == "CommandTimeout" and "timed out after 0.5 s" in ret.error
    assert _gone_within(_pids(pids, 1), 1.5)


def test_a_command_timeout_longer_than_job_timeout_wins(make: Any) -> None:
    loop = make(job_timeout=0.3)
    ret = loop.wait(loop.submit("cmd.run", "sleep 0.8; echo done", python_shell=True, timeout=5), 5)
    assert ret.ok and ret.data == "done"


def test_python_job_timeout_answers_at_the_deadline_and_drops_the_late_result(make: Any) -> None:
    loop = make(1, max_workers=1, job_timeout=0.3)
    start = time.monotonic()
    jid = loop.submit("test.sleep", 0.8)
    ret = loop.wait(jid, 2)
    assert 0.25 < time.monotonic() - start < 0.7
    assert ret.error_type == "CommandTimeout" and ret.error.startswith("test.sleep timed out after 0.3 s")
    assert "abandoned" in ret.error and loop.runner.abandoned == 1
    took, ping = loop.timed("test.echo", "x")  # the lane replaced the abandoned worker
    assert ping.ok and took < 0.5
    loop.pump(0.8)
    assert len(loop.results[jid]) == 1 and loop.runner.abandoned == 0  # returned late; dropped


def test_kill_a_running_command_ends_its_process_tree(make: Any, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    loop = make(job_timeout=60)
    jid = loop.submit("cmd.run", f"echo $$ > {pids}; sleep 30 & echo $! >> {pids}; wait; echo never",
                      python_shell=True)
    procs = _pids(pids, 2)
    start = time.monotonic()
    assert loop.runner.kill(jid) == "killed"
    ret = loop.wait(jid, 1)
    assert not ret.ok and ret.error_type == "JobKilled" and ret.error.startswith("killed by operator")
    assert _gone_within(procs, 1.0) and time.monotonic() - start < 1.2
    assert loop.runner.kill(jid) == "unknown"


def test_kill_escalates_to_sigkill_when_sigterm_is_ignored(make: Any, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    loop = make(job_timeout=60, kill_grace=0.3)
    jid = loop.submit("cmd.run", f"trap '' TERM; sleep 30 & echo $! > {pids}; wait", python_shell=True)
    procs = _pids(pids, 1)
    assert loop.runner.kill(jid) == "killed"
    assert loop.wait(jid, 1).error_type == "JobKilled"
    time.sleep(0.15)
    assert _alive(procs[0])  # ignored SIGTERM...
    assert _gone_within(procs, 1.0)  # ...but not SIGKILL


def test_kill_a_python_sleep_is_abandoned(make: Any) -> None:
    loop = make(job_timeout=60)
    jid = loop.submit("test.sleep", 30)
    loop.pump(0.1)
    assert loop.runner.kill(jid) == "abandoned"
    ret = loop.wait(jid, 0.5)
    assert ret.error_type == "JobKilled" and ret.error.startswith("killed by operator") and "abandoned" in ret.error
    assert loop.runner.abandoned == 1 and loop.runner.active() == []


def test_kill_a_queued_job_and_an_unknown_one(make: Any) -> None:
    loop = make(1, max_workers=1, job_timeout=60)
    loop.submit("test.sleep", 30)
    queued = loop.submit("test.echo", "x")
    loop.pump(0.1)
    assert loop.runner.kill(queued) == "killed"
    ret = loop.wait(queued, 0.5)
    assert ret.error == "killed by operator; before it started" and ret.error_type == "JobKilled"
    assert loop.runner.kill("no-such-jid") == "unknown" and loop.runner.kill("") == "unknown"


def test_old_submit_signature_still_works() -> None:
    runner = JobRunner(1)
    got: list[Return] = []
    try:
        runner.submit(lambda: Return(ok=True, data=1), got.append)
        end = time.monotonic() + 2
        while not got and time.monotonic() < end:
            select.select([runner.fd], [], [], 0.1)
            runner.run_pending()
        assert got == [Return(ok=True, data=1)]
    finally:
        runner.close()


def test_idle_extra_workers_exit_and_stats(make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pvc.minion.runner.IDLE_EXIT", 0.2)
    loop = make(1, max_workers=4, job_timeout=60)
    jids = [loop.submit("test.sleep", 0.2) for _ in range(4)]
    for jid in jids:
        assert loop.wait(jid, 2).ok
    assert loop.runner.stats()["lanes"]["general"]["threads"] == 4
    loop.pump(0.8)
    assert loop.runner.stats()["lanes"]["general"]["threads"] == 1
