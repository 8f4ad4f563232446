"""The Debian package: built once per session with scripts/build-deb.sh, installed with ``dpkg -i``
into this (throwaway, root) machine, then a master and a minion started from ``/usr/bin/pvc`` answer
``pvc run '*' test.ping`` through the installed CLI. Purged at the end, nothing left running.

Set ``PVC_SKIP_DEB_TEST=1`` to skip (the only way: without it a missing prerequisite fails).
"""

from __future__ import annotations

import grp
import gzip
import json
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.cluster.ports import free_port
from tests.cluster.wait import wait_for

REPO = Path(__file__).resolve().parents[2]
SKIP_ENV = "PVC_SKIP_DEB_TEST"
BUILD_TIMEOUT = 600
# Run the installed pvc as an operator would: no repo on sys.path, no venv of ours.
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"}

pytestmark = pytest.mark.skipif(bool(os.environ.get(SKIP_ENV)), reason=f"{SKIP_ENV} is set")


def _run(argv: list[str], timeout: float = 120, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout, **kw)  # type: ignore[call-overload]


def _installed() -> bool:
    return "ok installed" in _run(["dpkg-query", "-W", "-f=${Status}", "pvc"]).stdout


@pytest.fixture(scope="session")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scripts/build-deb.sh into a session tmp dir (about 15 s with pip's wheel cache, ~2 min without)."""
    out = tmp_path_factory.mktemp("deb")
    start = time.monotonic()
    proc = _run(["bash", str(REPO / "scripts" / "build-deb.sh")], timeout=BUILD_TIMEOUT,
                env={**os.environ, "DIST": str(out)})
    assert proc.returncode == 0, f"build-deb.sh failed:\n{proc.stdout}\n{proc.stderr}"
    debs = list(out.glob("pvc_*.deb"))
    assert len(debs) == 1, proc.stdout
    print(f"built {debs[0].name} in {time.monotonic() - start:.1f}s")
    return debs[0]


@pytest.fixture(scope="module")
def installed(deb: Path) -> Iterator[Path]:
    """``dpkg -i`` the package; purge it afterwards, and remove the user and directories it created."""
    if os.geteuid() != 0:
        pytest.fail(f"the .deb install test needs root (dpkg -i); set {SKIP_ENV}=1 to skip it")
    if _installed():
        pytest.fail("a pvc package is already installed here: the test would remove it (dpkg -r pvc first)")
    for path in ("/opt/pvc", "/usr/bin/pvc"):
        if os.path.lexists(path):
            pytest.fail(f"{path} exists and is not from the pvc package: the test will not overwrite it")
    had_user = _exists(pwd.getpwnam, "pvc")
    had_group = _exists(grp.getgrnam, "pvc")
    had_dirs = {d for d in ("/var/lib/pvc", "/var/log/pvc") if os.path.exists(d)}
    proc = _run(["dpkg", "-i", str(deb)], timeout=300)
    try:
        assert proc.returncode == 0, f"dpkg -i failed:\n{proc.stdout}\n{proc.stderr}"
        yield deb
    finally:
        removed = _run(["dpkg", "--purge", "pvc"], timeout=300)
        if not had_user and _exists(pwd.getpwnam, "pvc"):
            _run(["userdel", "pvc"])
        if not had_group and _exists(grp.getgrnam, "pvc"):
            _run(["groupdel", "pvc"])
        for d in {"/var/lib/pvc", "/var/log/pvc"} - had_dirs:
            shutil.rmtree(d, ignore_errors=True)
        assert removed.returncode == 0, removed.stderr
        assert not os.path.lexists("/opt/pvc") and not os.path.lexists("/usr/bin/pvc")
        assert not os.path.exists("/etc/pvc/master")


def _exists(lookup: object, name: str) -> bool:
    try:
        lookup(name)  # type: ignore[operator]
    except KeyError:
        return False
    return True


def test_files_user_and_conffiles(installed: Path) -> None:
    assert os.readlink("/usr/bin/pvc") == "/opt/pvc/bin/pvc"
    version = _run(["/usr/bin/pvc", "--version"], env=CLEAN_ENV)
    assert version.returncode == 0 and version.stdout.startswith("pvc, version ")
    for unit in ("pvc-master", "pvc-minion"):
        text = Path(f"/lib/systemd/system/{unit}.service").read_text()
        assert f"ExecStart=/opt/pvc/bin/pvc {unit.removeprefix('pvc-')} -c /etc/pvc" in text
    conffiles = _run(["dpkg-query", "-W", "-f=${Conffiles}", "pvc"]).stdout
    assert "/etc/pvc/master" in conffiles and "/etc/pvc/minion" in conffiles
    assert Path("/opt/pvc/share/doc/pvc/operations.md").is_file()
    assert grp.getgrnam("pvc").gr_name == "pvc" and pwd.getpwnam("pvc").pw_shell == "/usr/sbin/nologin"
    # the installed code, not this checkout; the example configs load; the backends' bindings import
    probe = _run(["/opt/pvc/bin/python", "-c",
                  ("import pvc, libvirt; from pvc.config import load_master, load_minion; "
                  "load_master('/etc/pvc'); load_minion('/etc/pvc'); print(pvc.__file__)")], env=CLEAN_ENV, cwd="/")
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith("/opt/pvc/lib/python3")


def test_installed_pyzmq_runs_the_packaged_libzmq(installed: Path) -> None:
    """/opt/pvc/libzmq (scripts/libzmq.sh), found through pyzmq's relative RUNPATH after the
    staging directory was moved to /opt/pvc."""
    probe = _run(["/opt/pvc/bin/python", "-c",
                  "from pvc.master import zmqbuild; print(zmqbuild.loaded_library()); print(zmqbuild.describe()[0])"],
                 env=CLEAN_ENV, cwd="/")
    assert probe.returncode == 0, probe.stderr
    path, ours = probe.stdout.split()
    assert path.startswith("/opt/pvc/libzmq/lib/libzmq.so") and ours == "True", probe.stdout


def test_rados_binding_is_linked_when_debian_ships_it(installed: Path) -> None:
    if not list(Path("/usr/lib/python3/dist-packages").glob("rados.cpython-*.so")):
        pytest.fail("python3-rados is not installed: scripts/setup.d/20-ceph.sh installs it")
    probe = _run(["/opt/pvc/bin/python", "-c", "import rados, rbd"], env=CLEAN_ENV, cwd="/")
    assert probe.returncode == 0, probe.stderr


def test_man_page_and_completion(installed: Path) -> None:
    page = gzip.decompress(Path("/usr/share/man/man1/pvc.1.gz").read_bytes()).decode()
    assert page.startswith(".TH PVC 1") and '.SS "pvc run' in page
    completion = Path("/usr/share/bash-completion/completions/pvc").read_text()
    live = _run(["/usr/bin/pvc"], env={**CLEAN_ENV, "_PVC_COMPLETE": "bash_source"})
    assert live.stdout.strip() == completion.strip()
    bash = _run(["bash", "-c", "source /usr/share/bash-completion/completions/pvc && complete -p pvc"])
    assert bash.returncode == 0 and "pvc" in bash.stdout, bash.stderr


def test_master_and_minion_from_the_installed_pvc(installed: Path, tmp_path: Path) -> None:
    ports = {"ret_port": free_port(), "channel_port": free_port()}
    master_dir, minion_dir = tmp_path / "master", tmp_path / "minion"
    master_dir.mkdir()
    minion_dir.mkdir()
    (master_dir / "master").write_text(yaml.safe_dump(
        {"interface": "127.0.0.1", **ports, "auto_accept": True, "root_dir": str(tmp_path / "m-root")}))
    (minion_dir / "minion").write_text(yaml.safe_dump(
        {"id": "deb1", "master": "127.0.0.1", "master_port": ports["ret_port"], "root_dir": str(tmp_path / "n-root")}))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for role, cfg in (("master", master_dir), ("minion", minion_dir)):
            log = open(tmp_path / f"{role}.log", "wb")  # noqa: SIM115  (closed with the process)
            procs.append(subprocess.Popen(["/usr/bin/pvc", role, "-c", str(cfg)], stdout=log, stderr=log,
                                          env=CLEAN_ENV, cwd=str(tmp_path), start_new_session=True))
        answers: dict[str, object] = {}

        def pinged() -> bool:
            for proc in procs:
                assert proc.poll() is None, _logs(tmp_path)
            out = _run(["/usr/bin/pvc", "-c", str(master_dir), "run", "*", "test.ping", "--out", "json",
                        "-t", "3"], env=CLEAN_ENV, cwd=str(tmp_path))
            try:
                answers.update(json.loads(out.stdout or "{}"))
            except ValueError:
                return False
            return answers.get("deb1") is True

        wait_for(pinged, 60, f"test.ping through /usr/bin/pvc to answer (last: {answers})", every=0.5)
    finally:
        for proc in procs:
            _stop(proc)
    assert "Traceback" not in _logs(tmp_path)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _logs(tmp_path: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(tmp_path.glob("*.log")))
