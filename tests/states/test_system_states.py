"""System state functions against this (throwaway, root) machine: a tiny local .deb, users and
groups with a unique prefix (removed after), a hosts file and time zone paths in temp dirs,
sysctl inside a network namespace the test creates, cmd.* with runas/creates/retry, service
without systemd. Each converges, and a second run reports no changes."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.states.conftest import Tree, converge

PREFIX = f"pvcst{uuid.uuid4().hex[:6]}"


def build_deb(root: Path, name: str, version: str) -> Path:
    pkg = root / f"{name}-{version}"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "usr/share/doc" / name).mkdir(parents=True)
    (pkg / "usr/share/doc" / name / "README").write_text("pvc state test package\n")
    (pkg / "etc").mkdir()
    (pkg / "etc" / f"{name}.conf").write_text("setting = 1\n")
    (pkg / "DEBIAN/conffiles").write_text(f"/etc/{name}.conf\n")
    (pkg / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: pvc <pvc@localhost>\n"
        "Description: pvc state test package\n")
    out = root / f"{name}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(pkg), str(out)], check=True,
                   capture_output=True, timeout=60)
    return out


def dpkg_status(name: str) -> str:
    res = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}", name], check=False,
                         capture_output=True, text=True)
    return res.stdout.strip()


@pytest.fixture
def deb_name(tmp_path: Path) -> Iterator[str]:
    name = f"{PREFIX}-hello"
    yield name
    subprocess.run(["dpkg", "--purge", name], check=False, capture_output=True, timeout=120)


def test_pkg_installed_from_tree_then_removed_and_purged(tree: Tree, tmp_path: Path, deb_name: str) -> None:
    deb = build_deb(tmp_path, deb_name, "1.0")
    tree.write({"pkgs.sls": f"{deb_name}:\n  pkg.installed:\n    - sources:\n"
                            f"      - {deb_name}: salt://debs/{deb.name}\n",
                "gone.sls": f"{deb_name}:\n  pkg.removed\n", "purge.sls": f"{deb_name}:\n  pkg.purged\n"})
    (tree.root / "debs").mkdir()
    (tree.root / "debs" / deb.name).write_bytes(deb.read_bytes())
    planned = tree.run("pkgs", test=True)
    assert planned.results[0].result.result is None and dpkg_status(deb_name) == ""
    first = tree.run("pkgs")
    assert first.ok and first.results[0].result.changes == {deb_name: {"old": "", "new": "1.0"}}
    assert dpkg_status(deb_name) == "ii"
    assert not tree.run("pkgs").changed
    converge(tree, "gone")
    assert dpkg_status(deb_name) == "rc"  # config files kept
    converge(tree, "purge")
    assert dpkg_status(deb_name) == "" and not Path(f"/etc/{deb_name}.conf").exists()


def test_pkg_errors_are_one_state(tree: Tree) -> None:
    tree.write({"bad.sls": "BAD NAME:\n  pkg.installed\nok: test.nop\n"})
    run = tree.run("bad")
    assert run["BAD NAME"].result is False and "is not a Debian package name" in run["BAD NAME"].comment
    assert run["ok"].result is True


@pytest.fixture
def accounts() -> Iterator[tuple[str, str]]:
    user, group = f"{PREFIX}u", f"{PREFIX}g"
    yield user, group
    subprocess.run(["userdel", "-r", user], check=False, capture_output=True)
    subprocess.run(["groupdel", group], check=False, capture_output=True)


def test_users_groups_and_ssh_keys(tree: Tree, accounts: tuple[str, str], tmp_path: Path) -> None:
    user, group = accounts
    key = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    tree.write({"users.sls": f"""
{group}:
  group.present:
    - gid: 47011
{user}:
  user.present:
    - uid: 47011
    - shell: /bin/sh
    - home: {tmp_path}/home
    - fullname: State Test
    - groups: [{group}]
    - optional_groups: [no-such-group-{PREFIX}]
    - require:
      - group: {group}
{key}:
  ssh_auth.present:
    - user: {user}
    - enc: ssh-ed25519
    - comment: {user}@test
    - require:
      - user: {user}
""", "absent.sls": f"{user}:\n  user.absent:\n    - purge: True\n{group}:\n  group.absent:\n"
                     f"    - require:\n      - user: {user}\n"})
    converge(tree, "users")
    entry = pwd.getpwnam(user)
    assert (entry.pw_uid, entry.pw_shell, entry.pw_dir, entry.pw_gecos) == (47011, "/bin/sh", f"{tmp_path}/home",
                                                                           "State Test")
    keys = Path(entry.pw_dir, ".ssh/authorized_keys")
    assert keys.read_text() == f"ssh-ed25519 {key} {user}@test\n"
    assert oct(keys.stat().st_mode)[-3:] == "600" and keys.stat().st_uid == 47011
    keys.unlink()
    keys.symlink_to(tmp_path / "elsewhere")
    hijack = tree.run("users")
    assert hijack[key].result is False and "is a symlink" in hijack[key].comment
    assert not (tmp_path / "elsewhere").exists()
    tree.write({"shell.sls": f"{user}:\n  user.present:\n    - shell: /bin/bash\n"})
    run = tree.run("shell")
    assert run[user].changes == {"shell": "/bin/bash"} and pwd.getpwnam(user).pw_shell == "/bin/bash"
    assert grp.getgrnam(group).gr_mem == [user]  # from the user's groups list
    tree.write({"nomembers.sls": f"{group}:\n  group.present:\n    - members: []\n",
                "members.sls": f"{group}:\n  group.present:\n    - addusers: [{user}]\n"})
    converge(tree, "nomembers")
    assert grp.getgrnam(group).gr_mem == []
    converge(tree, "members")
    assert grp.getgrnam(group).gr_mem == [user]
    converge(tree, "absent")
    with pytest.raises(KeyError):
        pwd.getpwnam(user)


def test_host_entries_in_a_configured_hosts_file(tree_with: object, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("# keep me\n127.0.0.1\tlocalhost\n10.0.0.9\tnode2 old\n")
    tree = tree_with(tmp_path / "srv", {"config": {"options": {"hosts.file": str(hosts)}}})  # type: ignore[operator]
    tree.write({"hosts.sls": """
node2:
  host.present:
    - ip: 10.0.0.12
    - clean: True
10.0.0.13:
  host.only:
    - hostnames: [node3, node3.cluster]
old:
  host.absent:
    - ip: 10.0.0.9
"""})
    converge(tree, "hosts")
    assert hosts.read_text() == "# keep me\n127.0.0.1\tlocalhost\n10.0.0.12\tnode2\n10.0.0.13\tnode3 node3.cluster\n"


def test_timezone_system_on_configured_paths(tree_with: object, tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "localtime").symlink_to("/usr/share/zoneinfo/Etc/UTC")
    tree = tree_with(tmp_path / "srv", {"timezone": {"localtime": str(etc / "localtime"),  # type: ignore[operator]
                                                     "timezone_file": str(etc / "timezone")}})
    tree.write({"tz.sls": "Europe/Berlin:\n  timezone.system\n", "bad.sls": "Mars/Olympus:\n  timezone.system\n"})
    converge(tree, "tz")
    assert os.readlink(etc / "localtime") == "/usr/share/zoneinfo/Europe/Berlin"
    assert (etc / "timezone").read_text() == "Europe/Berlin\n"
    bad = tree.run("bad")
    assert bad.results[0].result.result is False and "unknown zone" in bad.results[0].result.comment


def test_service_without_systemd_names_the_missing_init_system(tree: Tree) -> None:
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd runs here: the no-init-system error cannot be seen")
    tree.write({"svc.sls": "frr:\n  service.running:\n    - enable: True\nafter: test.nop\n"})
    run = tree.run("svc")
    assert run["frr"].result is False and "systemd is not running" in run["frr"].comment
    assert run["after"].result is True


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory any user may write to (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="pvc-states-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path)


def test_cmd_run_wait_runas_creates_retry_check_cmd(tree: Tree, tmp_path: Path, shared_dir: Path) -> None:
    marker = tmp_path / "marker"
    counter = tmp_path / "count"
    tree.write({"cmds.sls": f"""
make-marker:
  cmd.run:
    - name: echo made > {marker}
    - creates: {marker}
whoami:
  cmd.run:
    - name: id -un > {shared_dir}/who
    - runas: nobody
    - cwd: /
    - unless: test -e {shared_dir}/who
flaky:
  cmd.run:
    - name: echo x >> {counter}; test $(wc -l < {counter}) -ge 2
    - retry: {{attempts: 3, interval: 0}}
    - unless: test -e {counter}
after-marker:
  cmd.wait:
    - name: echo waited > {tmp_path}/waited
    - watch:
      - cmd: make-marker
checked:
  cmd.run:
    - name: 'true'
    - check_cmd: 'false'
    - onlyif: test ! -e {tmp_path}/never
"""})
    run = tree.run("cmds")
    assert run["make-marker"].result is True and marker.read_text() == "made\n"
    assert (shared_dir / "who").read_text() == "nobody\n", run["whoami"].comment
    assert run["flaky"].result is True and "Attempt 2" in run["flaky"].comment
    assert (tmp_path / "waited").read_text() == "waited\n"
    assert run["checked"].result is False and "check_cmd determined the state failed" in run["checked"].comment
    again = tree.run("cmds")
    assert all(not again[i].changes for i in ("make-marker", "whoami", "flaky", "after-marker"))


def test_sysctl_present_inside_a_network_namespace(netns: str, tmp_path: Path) -> None:
    conf = tmp_path / "99-pvc.conf"
    root = tmp_path / "srv"
    root.mkdir()
    (root / "sysctl.sls").write_text(
        f"net.ipv4.ip_forward:\n  sysctl.present:\n    - value: 1\n    - config: {conf}\n"
        f"net.ipv4.conf.lo.no_such_knob:\n  sysctl.present:\n    - value: 1\n    - config: {conf}\n")
    script = (
        "import json, sys\n"
        "from tests.states.conftest import Tree, converge\n"
        "from pathlib import Path\n"
        f"tree = Tree(Path({str(root)!r}))\n"
        "runs = [tree.run('sysctl') for _ in range(2)]\n"
        "print(json.dumps([[r.result.result, bool(r.result.changes), r.result.comment] for run in runs "
        "for r in run.results]))\n")
    out = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", script], check=False,
                         capture_output=True,
                         text=True, timeout=120, cwd=os.getcwd())
    assert out.returncode == 0, out.stderr
    first_ok, first_bad, again_ok, _again_bad = json.loads(out.stdout.strip().splitlines()[-1])
    assert first_ok[:2] == [True, True] and again_ok[:2] == [True, False]
    assert first_bad[0] is False and "no such parameter" in first_bad[2]
    assert conf.read_text() == "net.ipv4.ip_forward = 1\n"
    inside = subprocess.run(["ip", "netns", "exec", netns, "cat", "/proc/sys/net/ipv4/ip_forward"],
                            check=False, capture_output=True, text=True, timeout=30)
    assert inside.stdout.strip() == "1"
