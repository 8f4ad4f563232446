"""Bad input at the CLI: a clear one-line message and a non-zero exit code, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from tests.cluster.wait import wait_for


def pvc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pvc.cli.main", *args], check=False, capture_output=True, text=True, timeout=30)


def test_unreachable_master(tmp_path):
    (tmp_path / "master").write_text("root_dir: root\n")
    proc = pvc("run", "-c", str(tmp_path), "*", "test.ping")
    assert proc.returncode == 2
    assert "master is not running" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_config(tmp_path):
    proc = pvc("run", "-c", str(tmp_path / "nope"), "*", "test.ping")
    assert proc.returncode == 2 and "config file not found" in proc.stderr


def test_bad_option_in_config(tmp_path):
    (tmp_path / "master").write_text("ret_prot: 5\n")
    proc = pvc("master", "-c", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("Error:")
    assert "ret_prot" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["run", "-E", "(", "test.ping"], "regular expression"),
    (["run", "-C", "G@role:web and (", "test.ping"], ""),
    (["run", "-L", "a/b", "test.ping"], "not allowed"),
    (["run", "*", "not-a-function"], "is not a function name"),
    (["run", "-E", "-L", "x", "test.ping"], "choose one target type"),
    (["run", "*", "test.ping", "--batch", "0"], "--batch"),
])
def test_bad_targets_and_functions(three_minions, args, message):
    proc = pvc(args[0], "-c", str(three_minions.master_dir), *args[1:])
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_pvc_call_runs_locally_without_master(tmp_path):
    (tmp_path / "minion").write_text("id: local1\nroot_dir: root\n")
    proc = pvc("call", "-c", str(tmp_path), "test.echo", "hi", "--out", "json")
    assert proc.returncode == 0, proc.stderr
    assert '"local": "hi"' in proc.stdout
    proc = pvc("call", "-c", str(tmp_path), "test.nosuch")
    assert proc.returncode == 1 and "has no function" in proc.stdout


def test_version_is_fast():
    proc = pvc("--version")
    assert proc.returncode == 0 and "pvc, version" in proc.stdout


def test_job_show_unknown_jid(three_minions):
    proc = pvc("job", "show", "-c", str(three_minions.master_dir), "20000101000000000000")
    assert proc.returncode == 2 and "no job with jid 20000101000000000000" in proc.stderr


def test_option_typo_is_an_error_with_a_suggestion(tmp_path):
    (tmp_path / "master").write_text("root_dir: root\n")
    proc = pvc("-c", str(tmp_path), "run", "*", "test.ping", "--otu", "json")
    assert proc.returncode == 2
    assert "No such option '--otu'. Did you mean '--out'?" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("how", ["group", "env"])
def test_config_dir_on_the_group_or_from_the_environment(tmp_path, how):
    (tmp_path / "master").write_text("root_dir: root\n")
    if how == "group":
        proc = pvc("-c", str(tmp_path), "job", "list")
    else:
        proc = subprocess.run([sys.executable, "-m", "pvc.cli.main", "job", "list"], check=False, capture_output=True,
                              text=True, timeout=30, env={**os.environ, "PVC_CONFIG_DIR": str(tmp_path)})
    assert proc.returncode == 2
    assert f"no socket at {tmp_path}/root/run/master/client.ipc" in proc.stderr


def _as_nobody(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           sys.executable, "-m", "pvc.cli.main", *args],
                          check=False, capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to become nobody")
@pytest.mark.parametrize("argv, path", [
    (["run", "*", "test.ping"], "root/run/master/client.ipc"),
    (["job", "list"], "root/run/master/client.ipc"),
    (["key", "list"], "root/pki/master"),
    (["key", "finger"], "root/pki/master"),
])
def test_non_root_gets_permission_denied_not_a_traceback(argv, path):
    base = tempfile.mkdtemp(prefix="pvc-perm-", dir="/tmp")
    try:
        os.chmod(base, 0o755)
        with open(os.path.join(base, "master"), "w") as fh:
            fh.write("root_dir: root\n")
        for d in ("root/run/master", "root/pki/master/minions"):
            os.makedirs(os.path.join(base, d))
        os.chmod(os.path.join(base, "root"), 0o755)
        for d in ("root/run", "root/pki"):
            os.chmod(os.path.join(base, d), 0o755)
        for d in ("root/run/master", "root/pki/master"):  # as the master leaves them
            os.chmod(os.path.join(base, d), 0o700)
        open(os.path.join(base, "root/run/master/client.ipc"), "w").close()
        proc = _as_nobody(argv[0], "-c", base, *argv[1:]) if argv[0] == "run" else \
            _as_nobody(*argv, "-c", base)
        assert proc.returncode == 2, proc.stdout
        assert "Traceback" not in proc.stderr and "master is not running" not in proc.stderr
        assert proc.stderr.startswith(f"Error: permission denied: {base}/{path}")
        assert "(run as root" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    finally:
        shutil.rmtree(base)


def test_cmd_run_from_the_cli_uses_a_shell(three_minions):
    proc = three_minions.pvc("run", "m1", "cmd.run", "echo hi; exit 3", "--out", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"m1": "hi"}
    proc = three_minions.pvc("run", "m1", "cmd.run", "echo hi; exit 3", "python_shell=False", "--out", "json")
    assert json.loads(proc.stdout) == {"m1": "hi; exit 3"}


def test_unknown_listed_minion_is_named(three_minions):
    proc = three_minions.pvc("run", "-L", "m1,m2,m7", "test.ping")
    assert proc.returncode == 1
    assert "m7: no such minion" in proc.stderr
    assert proc.stdout.index("m1:") < proc.stdout.index("m2:")


def test_members_of_group_pvc_may_use_the_master(tmp_path):
    """With a group ``pvc`` (the package makes it), its members reach the master's client
    socket without root: the run dir is 0750 group pvc, the sockets 0660."""
    import grp
    import stat
    import subprocess

    from tests.cluster.pvc import PvcCluster

    created = False
    try:
        grp.getgrnam("pvc")
    except KeyError:
        subprocess.run(["groupadd", "--system", "pvc"], check=True)
        created = True
    base = tempfile.mkdtemp(prefix="pvc-group-", dir="/tmp")
    try:
        os.chmod(base, 0o755)
        with PvcCluster(base) as c:
            c.start_master()
            for d in (c.root, c.master_dir, c.master_dir / "root", c.master_dir / "root" / "run"):
                os.chmod(d, 0o755)
            run_dir = c.master_dir / "root" / "run" / "master"
            assert stat.S_IMODE(run_dir.stat().st_mode) == 0o750
            assert run_dir.stat().st_gid == grp.getgrnam("pvc").gr_gid
            assert stat.S_IMODE((run_dir / "client.ipc").stat().st_mode) == 0o660
            member = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--groups=pvc",
                                     sys.executable, "-m", "pvc.cli.main", "job", "list", "-c", str(c.master_dir)],
                                    check=False, capture_output=True, text=True, timeout=30)
            assert member.returncode == 0, member.stderr
    finally:
        shutil.rmtree(base)
        if created:
            subprocess.run(["groupdel", "pvc"], check=False)


def test_not_running_told_from_not_answering(pvc_cluster):
    """A stopped master leaves nothing; a stale socket without a live PID says "not running";
    a frozen master says it runs but does not answer."""
    import signal

    c = pvc_cluster
    c.start_master()
    run_dir = c.master_dir / "root" / "run" / "master"
    assert (run_dir / "master.pid").read_text().strip() == str(c.procs["master"].pid)
    master = c.procs["master"]
    os.kill(master.pid, signal.SIGSTOP)
    try:
        frozen = c.pvc("job", "list")
    finally:
        os.kill(master.pid, signal.SIGCONT)
    assert frozen.returncode == 2 and f"master (pid {master.pid}) is running but did not answer" in frozen.stderr
    c.procs.pop("master").kill()  # SIGKILL: the socket and PID file stay behind
    master.wait(5)
    stale = c.pvc("job", "list")
    assert stale.returncode == 2 and "master is not running" in stale.stderr, stale.stderr
    c.start_master()
    pid_file = run_dir / "master.pid"
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() == str(c.procs["master"].pid), 15,
             "the new master's PID file")
    c.stop_master()  # a clean stop removes them
    assert not (run_dir / "client.ipc").exists() and not (run_dir / "master.pid").exists()
    gone = c.pvc("job", "list")
    assert gone.returncode == 2 and "master is not running" in gone.stderr
