"""cmd.run / run_all / retcode through the `pvc call` path, with real child processes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from pvc.config import MinionConfig
from pvc.minion.functions import MinionFunctions


def _funcs(**cmd_options: object) -> MinionFunctions:
    return MinionFunctions(MinionConfig(id="cmd-test", modules={"cmd": cmd_options} if cmd_options else {}),
                           grains={})


@pytest.fixture(scope="module")
def funcs() -> MinionFunctions:
    return _funcs()


def _alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie waiting for its reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # gone, or going while we read
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def test_run_returns_stdout_as_string(funcs: MinionFunctions) -> None:
    ret = funcs.call("cmd.run", [["echo", "hello", "world"]])
    assert ret.ok and ret.data == "hello world"


def test_string_is_split_not_given_to_a_shell(funcs: MinionFunctions, tmp_path: Path) -> None:
    victim = tmp_path / "pwned"
    ret = funcs.call("cmd.run", [f"echo hi; touch {victim} && echo $HOME | cat"])
    assert ret.ok
    assert ret.data == f"hi; touch {victim} && echo $HOME | cat"  # every token reached echo verbatim
    assert not victim.exists()


def test_quoted_string_arguments(funcs: MinionFunctions) -> None:
    assert funcs.call("cmd.run", ["printf '%s|' 'a b' c"]).data == "a b|c|"


def test_python_shell_runs_a_shell(funcs: MinionFunctions, tmp_path: Path) -> None:
    ret = funcs.call("cmd.run", ["echo a; echo b | tr b B"], {"python_shell": True})
    assert ret.ok and ret.data == "a\nB"


def test_python_shell_refuses_a_list(funcs: MinionFunctions) -> None:
    ret = funcs.call("cmd.run", [["echo", "a"]], {"python_shell": True})
    assert not ret.ok and ret.error_type == "InvalidArgument" and "one string" in ret.error


def test_run_merges_stderr_run_all_separates(funcs: MinionFunctions) -> None:
    script = ["sh", "-c", "echo out; echo err >&2; exit 3"]
    merged = funcs.call("cmd.run", [script])
    assert merged.ok and set(merged.data.splitlines()) == {"out", "err"}  # output despite exit 3
    split = funcs.call("cmd.run_all", [script])
    assert split.ok
    assert split.data["retcode"] == 3 and split.data["stdout"] == "out" and split.data["stderr"] == "err"
    assert isinstance(split.data["pid"], int)
    assert funcs.call("cmd.run", [script], {"redirect_stderr": False}).data == "out"
    assert funcs.call("cmd.retcode", [script]).data == 3


def test_rstrip_false_keeps_trailing_newline(funcs: MinionFunctions) -> None:
    assert funcs.call("cmd.run_all", [["echo", "x"]], {"rstrip": False}).data["stdout"] == "x\n"


def test_signal_death_is_negative_retcode(funcs: MinionFunctions) -> None:
    assert funcs.call("cmd.retcode", ["sh -c 'kill -9 $$'"]).data == -9


def test_timeout_kills_the_whole_process_group(funcs: MinionFunctions, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"echo $$ > {pids}; sleep 30 & echo $! >> {pids}; wait"
    start = time.monotonic()
    ret = funcs.call("cmd.run_all", [script], {"python_shell": True, "timeout": 0.5})
    assert time.monotonic() - start < 5
    assert not ret.ok and ret.error_type == "CommandTimeout"
    assert "timed out after 0.5 s" in ret.error and "killed" in ret.error
    shell, sleeper = (int(p) for p in pids.read_text().split())
    deadline = time.monotonic() + 5
    while (_alive(shell) or _alive(sleeper)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(shell) and not _alive(sleeper)


def test_default_timeout_from_module_config() -> None:
    funcs = _funcs(timeout=0.3)
    ret = funcs.call("cmd.run", [["sleep", "30"]])
    assert ret.error_type == "CommandTimeout" and "`sleep 30` timed out after 0.3 s" in ret.error


def test_cwd(funcs: MinionFunctions, tmp_path: Path) -> None:
    assert funcs.call("cmd.run", ["pwd"], {"cwd": str(tmp_path)}).data == str(tmp_path)
    assert funcs.call("cmd.run", ["pwd"]).data == os.path.expanduser("~")
    missing = funcs.call("cmd.run", ["pwd"], {"cwd": str(tmp_path / "nope")})
    assert not missing.ok and missing.error == f"cmd: no such directory: {tmp_path / 'nope'}"
    relative = funcs.call("cmd.run", ["pwd"], {"cwd": "tmp"})
    assert relative.error_type == "InvalidArgument" and "absolute" in relative.error


def test_env_is_merged_onto_the_environment(funcs: MinionFunctions) -> None:
    ret = funcs.call("cmd.run", [["sh", "-c", 'echo "$PVC_A/$PVC_B/$PATH"']], {"env": {"PVC_A": "x y", "PVC_B": 2}})
    assert ret.data == f"x y/2/{os.environ['PATH']}"
    bad = funcs.call("cmd.run", ["env"], {"env": ["A=1"]})
    assert bad.error_type == "InvalidArgument" and "mapping" in bad.error


def test_stdin_large_round_trip(funcs: MinionFunctions) -> None:
    assert funcs.call("cmd.run", ["cat"], {"stdin": "héllo\n"}).data == "héllo"
    assert funcs.call("cmd.run", ["wc -c"], {"stdin": "x" * 3_000_000}).data == "3000000"
    # a child that never reads its stdin must not hang the call
    assert funcs.call("cmd.retcode", ["true"], {"stdin": "x" * 3_000_000}).data == 0


def test_output_is_utf8_with_replacement(funcs: MinionFunctions) -> None:
    ret = funcs.call("cmd.run", [["printf", r"\377ok \303\251"]])
    assert ret.ok and ret.data == "\ufffdok é"


def test_output_is_capped() -> None:
    funcs = _funcs(max_output=1000)
    ret = funcs.call("cmd.run_all", ["sh -c 'yes | head -c 100000; yes E | head -c 5000 >&2'"])
    assert ret.ok and ret.data["retcode"] == 0
    assert ret.data["stdout"].startswith("y\ny\n")
    assert ret.data["stdout"].endswith("[pvc: output truncated, 99000 more bytes dropped]")
    assert ret.data["stderr"].endswith("[pvc: output truncated, 4000 more bytes dropped]")


def test_missing_command_is_a_clear_error(funcs: MinionFunctions) -> None:
    ret = funcs.call("cmd.run", ["no-such-command-pvc --help"])
    assert not ret.ok
    assert ret.error == "cmd: no such command: no-such-command-pvc" and ret.error_type == "CommandNotFound"


def test_unrunnable_file_is_a_clear_error(funcs: MinionFunctions, tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("echo hi\n")  # not executable
    ret = funcs.call("cmd.run", [[str(script)]])
    assert not ret.ok and ret.error == f"cmd: cannot run command {script}: Permission denied"


def test_yaml_typed_scalars_become_text(funcs: MinionFunctions) -> None:
    # `pvc call cmd.retcode true` hands the function a bool after YAML parsing
    assert funcs.call("cmd.retcode", [True]).data == 0
    assert funcs.call("cmd.retcode", [False]).data == 1
    assert funcs.call("cmd.run", [["echo", 1, 2.5]]).data == "1 2.5"


@pytest.mark.parametrize(("args", "kwargs", "needle"), [
    ([], {}, "missing a required argument: 'cmd'"),
    ([""], {}, "the command is empty"),
    (["echo 'unclosed"], {}, "cannot split the command"),
    ([{"a": 1}], {}, "cmd.run: argument 'cmd' must be text or a list, got a mapping"),
    ([["echo", None]], {}, "cmd.run: argument 'cmd[1]' must be text, got null"),
    (["echo"], {"timeout": 0}, "timeout must be a positive number"),
    (["echo"], {"timeout": "soon"}, "cmd.run: argument 'timeout' must be a number or null, got a string"),
    (["echo"], {"timeout": True}, "argument 'timeout' must be a number or null, got a boolean"),
    (["echo\0x"], {}, "NUL byte"),
    (["echo"], {"stdin": 5}, "cmd.run: argument 'stdin' must be a string or null, got an integer"),
    (["echo"], {"env": {"A": [1]}}, "cmd.run: argument 'env.A' must be text, got a list"),
    (["echo"], {"python_shell": "yes"}, "argument 'python_shell' must be a boolean, got a string"),
    (["echo"], {"env": {"A=B": "1"}}, "invalid variable name"),
])
def test_bad_arguments(funcs: MinionFunctions, args: list, kwargs: dict, needle: str) -> None:
    ret = funcs.call("cmd.run", args, kwargs)
    assert not ret.ok and ret.error_type == "InvalidArgument" and needle in ret.error


def test_test_mode_runs_nothing(funcs: MinionFunctions, tmp_path: Path) -> None:
    target = tmp_path / "made"
    for fun in ("cmd.run", "cmd.run_all", "cmd.retcode"):
        ret = funcs.call(fun, [f"touch {target}"], {"env": {"A": "1"}, "timeout": 9}, test=True)
        assert ret.ok
        assert ret.data["argv"] == ["touch", str(target)]
        assert ret.data["env"] == {"A": "1"} and ret.data["timeout"] == 9
        assert ret.data["comment"] == f"test mode: would run `touch {target}`"
    assert not target.exists()


def test_kill_through_the_job_control_ends_the_process_tree(funcs: MinionFunctions, tmp_path: Path) -> None:
    from pvc.execution.control import JobControl, JobKilled

    pids = tmp_path / "pids"
    ctl = JobControl("j1", "cmd.run", grace=0.5)

    def kill_when_started() -> None:
        while not pids.exists() or len(pids.read_text().split()) < 2:
            time.sleep(0.02)
        ctl.cancel(JobKilled("killed by operator"))

    threading.Thread(target=kill_when_started, daemon=True).start()
    start = time.monotonic()
    ret = funcs.call("cmd.run", [f"echo $$ > {pids}; sleep 30 & echo $! >> {pids}; wait"],
                     {"python_shell": True}, control=ctl)
    assert time.monotonic() - start < 3
    assert not ret.ok and ret.error_type == "JobKilled" and ret.error == "killed by operator"
    shell, sleeper = (int(p) for p in pids.read_text().split())
    deadline = time.monotonic() + 2
    while (_alive(shell) or _alive(sleeper)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(shell) and not _alive(sleeper)


def test_a_killed_job_starts_no_command(funcs: MinionFunctions, tmp_path: Path) -> None:
    from pvc.execution.control import JobControl, JobKilled

    ctl = JobControl("j1", "cmd.run")
    ctl.cancel(JobKilled("killed by operator"))
    ret = funcs.call("cmd.run", [["touch", str(tmp_path / "made")]], control=ctl)
    assert ret.error_type == "JobKilled" and not (tmp_path / "made").exists()


def test_timeout_sends_sigterm_before_sigkill(funcs: MinionFunctions, tmp_path: Path) -> None:
    mark = tmp_path / "term"
    ret = funcs.call("cmd.run", [f"trap 'echo x > {mark}; exit 3' TERM; sleep 30 & wait"],
                     {"python_shell": True, "timeout": 0.5})
    assert ret.error_type == "CommandTimeout" and "SIGTERM, then SIGKILL" in ret.error
    assert mark.read_text() == "x\n"  # the shell saw SIGTERM and could clean up


def _kill_when_pid_written(ctl: object, pids: Path) -> threading.Thread:
    from pvc.execution.control import JobControl, JobKilled

    assert isinstance(ctl, JobControl)

    def kill() -> None:
        deadline = time.monotonic() + 10
        while not (pids.exists() and pids.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.01)
        ctl.cancel(JobKilled("killed by operator"))

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_a_killed_group_that_left_gets_no_late_sigkill(funcs: MinionFunctions, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The group's number is free once it left: a SIGKILL at the end of the grace could reach
    another program's group that took it (no PID wraps in a test: the signal is recorded)."""
    import signal

    from pvc import process
    from pvc.execution.control import JobControl

    sent: list[tuple[int, int]] = []
    real = os.killpg
    monkeypatch.setattr(process.os, "killpg", lambda pgid, sig: (sent.append((pgid, sig)), real(pgid, sig))[1])
    pids = tmp_path / "pids"
    ctl = JobControl("j1", "cmd.run", grace=0.3)
    _kill_when_pid_written(ctl, pids)
    ret = funcs.call("cmd.run", [f"echo $$ > {pids}; exec sleep 30"], {"python_shell": True}, control=ctl)
    assert ret.error_type == "JobKilled"
    time.sleep(0.6)  # past the grace
    pgid = int(pids.read_text())
    assert (pgid, signal.SIGTERM) in sent and (pgid, signal.SIGKILL) not in sent, sent


def test_a_member_that_ignores_sigterm_still_gets_sigkill_after_the_grace(funcs: MinionFunctions,
                                                                          tmp_path: Path) -> None:
    from pvc.execution.control import JobControl

    pids = tmp_path / "pids"
    ctl = JobControl("j1", "cmd.run", grace=0.3)
    _kill_when_pid_written(ctl, pids)
    ret = funcs.call("cmd.run", [f"(trap '' TERM; exec sleep 30) >/dev/null 2>&1 & echo $! > {pids}; wait"],
                     {"python_shell": True}, control=ctl)
    assert ret.error_type == "JobKilled"  # the shell (the leader) left at SIGTERM, the sleeper did not
    sleeper = int(pids.read_text())
    deadline = time.monotonic() + 3
    while _alive(sleeper) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(sleeper)
