"""A state run inside a job: a state's own timeout bounds that state only (it never moves the
job's deadline), and killing the job ends the state's running command."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pvc.execution.control import JobControl, JobKilled, use_control
from tests.states.conftest import Tree


def test_a_state_timeout_bounds_that_state_only(tree: Tree) -> None:
    tree.write({"t.sls": "short:\n  cmd.run:\n    - name: sleep 5\n    - timeout: 0.5\n"
                         "after:\n  cmd.run:\n    - name: 'true'\n    - timeout: 30\n"})
    job = JobControl("j1", "state.apply", timeout=600)
    with use_control(job):
        run = tree.run("t")
    assert run["short"].result is False and "timed out after 0.5 s" in run["short"].comment
    assert run["after"].result is True
    assert job.timeout == 600 and job.error is None


def test_killing_the_job_ends_a_running_state(tree: Tree, tmp_path: Path) -> None:
    tree.write({"k.sls": f"long:\n  cmd.run:\n    - name: sleep 60\nnext:\n  cmd.run:\n    - name: touch {tmp_path}/next\n"})
    job = JobControl("j2", "state.apply")
    out: list[BaseException] = []

    def apply() -> None:
        with use_control(job):
            try:
                tree.run("k")
            except JobKilled as exc:
                out.append(exc)

    worker = threading.Thread(target=apply)
    started = time.monotonic()
    worker.start()
    time.sleep(0.5)
    job.cancel(JobKilled("killed by operator"))
    worker.join(30)
    assert not worker.is_alive() and time.monotonic() - started < 20
    assert [str(e) for e in out] == ["killed by operator"]  # the run stops: the next state never starts
    assert not (tmp_path / "next").exists()
