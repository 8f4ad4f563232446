"""What the package and `make demo` are made of, checked without building anything: the example
configs load, and the setup profiles install what each target runs and no more."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

from pvc.config import load_master, load_minion

REPO = Path(__file__).resolve().parents[2]
FRAGMENTS = sorted((REPO / "scripts" / "setup.d").glob("*.sh"))


def test_example_configs_load(tmp_path: Path) -> None:
    for role in ("master", "minion"):
        shutil.copy(REPO / "packaging" / "etc" / role, tmp_path / role)
    master, minion = load_master(tmp_path), load_minion(tmp_path)
    assert master.auto_accept is False and master.root_dir == "/var/lib/pvc"
    assert minion.masters == ("127.0.0.1",) and minion.master_port == master.ret_port


def _profile(name: str) -> list[str]:
    """The fragments scripts/setup.sh runs for profile ``name`` (its own in_profile function)."""
    script = (f'source <(sed -n "/^in_profile()/,/^}}/p" scripts/setup.sh); PROFILE={name}; '
              'for f in scripts/setup.d/*.sh; do in_profile "$f" && basename "$f"; done; true')
    proc = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, check=True, timeout=30)
    return proc.stdout.split()


def test_test_profile_runs_every_fragment() -> None:
    assert _profile("test") == [f.name for f in FRAGMENTS]


def test_demo_installs_only_what_the_lab_runs() -> None:
    demo = _profile("demo")
    packages = {word for f in demo for line in (REPO / "scripts" / "setup.d" / f).read_text().splitlines()
                if line.startswith("apt_install ") for word in line.split()[1:]}
    assert "python3-venv" in packages
    for needed in ("libvirt-daemon-system", "qemu-system-x86", "zookeeper", "openipmi", "ipmitool", "libvirt-dev"):
        assert needed in packages
    for unneeded in ("ceph-mon", "python3-rados", "frr", "postgresql-15", "faketime", "qemu-block-extra",
                     "dnsmasq-base"):
        assert unneeded not in packages, f"make demo would install {unneeded}"
    assert "90-salt.sh" not in demo


def test_deb_profile_is_the_build_tools() -> None:
    assert _profile("deb") == ["00-base.sh"]


def test_setup_compiled_the_daemons_bytecode() -> None:
    """scripts/setup.sh compiles pvc, so that a daemon started under PYTHONDONTWRITEBYTECODE (CI
    sandboxes) does not compile the tree again at every start."""
    import pvc.master.daemon
    import pvc.minion.daemon

    for module in (pvc.master.daemon, pvc.minion.daemon):
        cached = importlib.util.cache_from_source(module.__file__ or "")
        assert Path(cached).is_file(), f"no bytecode for {module.__name__}: run scripts/setup.sh"


def test_unknown_profile_is_refused() -> None:
    proc = subprocess.run(["bash", str(REPO / "scripts" / "setup.sh"), "nope"], capture_output=True, text=True,
                          check=False, timeout=30)
    assert proc.returncode == 2 and "unknown profile 'nope'" in proc.stderr


@pytest.mark.parametrize("script", ["postinst", "prerm", "postrm"])
def test_maintainer_scripts_are_valid_sh(script: str) -> None:
    path = REPO / "packaging" / "debian" / script
    assert path.stat().st_mode & 0o111
    subprocess.run(["sh", "-n", str(path)], check=True, timeout=30)
