"""file.* states on real files: sources and templates from the tree, owner, backup, check_cmd,
the editing states and recurse; each idempotent, and test mode touching nothing."""

from __future__ import annotations

import grp
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from pvc.states.apply import show_sls
from pvc.states.engine import apply_chunks
from pvc.states.functions import default_registry
from pvc.states.result import StateRun
from tests.states.conftest import Tree, converge


def snapshot(root: Path) -> dict[str, tuple[bytes | str, int]]:
    out: dict[str, tuple[bytes | str, int]] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            out[str(path)] = (os.readlink(path) if path.is_symlink() else path.read_bytes(), path.lstat().st_mode)
    return out


def twice(tree: Tree, sls: str, dest: Path, pillar: dict[str, Any] | None = None) -> StateRun:
    """Test mode plans and leaves ``dest`` as it was; then :func:`converge`."""
    before = snapshot(dest)
    planned = tree.run(sls, test=True, pillar=pillar)
    assert snapshot(dest) == before
    assert all(r.result.result is None for r in planned.results), [r.result.comment for r in planned.results]
    return converge(tree, sls, plan="none", pillar=pillar)


def test_managed_from_template_with_context_owner_and_mode(tree: Tree, tmp_path: Path) -> None:
    dest = tmp_path / "etc"
    group = grp.getgrgid(os.getgid()).gr_name
    tree.write({
        "ntp/files/ntp.conf.jinja": "{% for s in servers %}server {{ s }} {{ opt }}\n{% endfor %}# {{ grains.id }}\n",
        "ntp/init.sls": (f"{dest}/ntp.conf:\n  file.managed:\n    - source:\n      - salt://ntp/files/missing\n"
                         "      - salt://ntp/files/ntp.conf.jinja\n    - template: jinja\n"
                         "    - defaults: {opt: iburst, servers: [x]}\n"
                         "    - context:\n        servers: {{ pillar.ntp.servers | json }}\n"
                         f"    - user: root\n    - group: {group}\n    - mode: 640\n    - makedirs: True\n"),
    })
    dest.mkdir()
    first = twice(tree, "ntp", dest, pillar={"ntp": {"servers": ["a", "b"]}})
    assert (dest / "ntp.conf").read_text() == "server a iburst\nserver b iburst\n# node1\n"
    assert oct((dest / "ntp.conf").stat().st_mode)[-3:] == "640"
    assert "diff" in first.results[0].result.changes


def test_managed_plain_source_backup_and_check_cmd(tree: Tree, tmp_path: Path) -> None:
    dest = tmp_path / "conf"
    dest.mkdir()
    (dest / "app.conf").write_text("old\n")
    cache = tmp_path / "cache"
    tree.write({"files/app.conf": "{{ not rendered }}\n", "app.sls": (
        f"{dest}/app.conf:\n  file.managed:\n    - source: salt://files/app.conf\n    - backup: minion\n"
        "    - check_cmd: grep -q rendered\n"
        f"{dest}/bad.conf:\n  file.managed:\n    - contents: nope\n    - check_cmd: grep -q yes\n")})
    inputs = tree.inputs()
    ctx = replace(inputs.state_context(False), cache_dir=str(cache))
    run = apply_chunks(show_sls(["app"], inputs), default_registry(), ctx)
    assert (dest / "app.conf").read_text() == "{{ not rendered }}\n"
    backups = list((cache / "file_backup").rglob("app.conf_*"))
    assert len(backups) == 1 and backups[0].read_text() == "old\n"
    assert run[f"{dest}/bad.conf"].result is False and "check_cmd execution failed" in run[f"{dest}/bad.conf"].comment
    assert not (dest / "bad.conf").exists()


def test_missing_source_is_a_clear_failure(tree: Tree, tmp_path: Path) -> None:
    tree.write({"m.sls": f"{tmp_path}/x:\n  file.managed:\n    - source: salt://nope/x\n"})
    run = tree.run("m")
    assert run.results[0].result.result is False
    assert "Source file salt://nope/x not found" in run.results[0].result.comment


def test_editing_states(tree: Tree, tmp_path: Path) -> None:
    dest = tmp_path / "e"
    dest.mkdir()
    (dest / "sshd_config").write_text("Port 22\n#PermitRootLogin yes\nUsePAM yes\n")
    (dest / "hosts.allow").write_text("header\n# BEGIN pvc\nold\n# END pvc\nfooter\n")
    (dest / "fstab").write_text("a\nb\nc\n")
    tree.write({"edit.sls": f"""
{dest}/sshd_config:
  file.replace:
    - pattern: '^#?PermitRootLogin .*'
    - repl: PermitRootLogin no
ciphers:
  file.replace:
    - name: {dest}/sshd_config
    - pattern: '^Ciphers .*'
    - repl: Ciphers aes256-gcm@openssh.com
    - append_if_not_found: True
{dest}/motd:
  file.append:
    - text:
      - line one
      - line two
{dest}/hosts.allow:
  file.blockreplace:
    - marker_start: '# BEGIN pvc'
    - marker_end: '# END pvc'
    - content: |
        sshd: 10.0.0.0/8
line-after:
  file.line:
    - name: {dest}/fstab
    - content: b2
    - mode: ensure
    - after: '^b$'
line-delete:
  file.line:
    - name: {dest}/fstab
    - match: '^c$'
    - mode: delete
{dest}/link:
  file.symlink:
    - target: {dest}/fstab
"""})
    twice(tree, "edit", dest)
    assert (dest / "sshd_config").read_text() == \
        "Port 22\nPermitRootLogin no\nUsePAM yes\nCiphers aes256-gcm@openssh.com\n"
    assert (dest / "motd").read_text() == "line one\nline two\n"
    assert (dest / "hosts.allow").read_text() == "header\n# BEGIN pvc\nsshd: 10.0.0.0/8\n# END pvc\nfooter\n"
    assert (dest / "fstab").read_text() == "a\nb\nb2\n"
    assert os.readlink(dest / "link") == f"{dest}/fstab"


def test_blockreplace_without_markers_and_symlink_over_file_fail(tree: Tree, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x\n")
    tree.write({"bad.sls": f"""
{tmp_path}/f:
  file.blockreplace:
    - content: y
{tmp_path}/g:
  file.symlink:
    - name: {tmp_path}/f
    - target: /etc/hostname
"""})
    run = tree.run("bad")
    assert [r.result.result for r in run.results] == [False, False]
    assert "markers not found" in run.results[0].result.comment
    assert "force: True" in run.results[1].result.comment


def test_recurse_with_clean(tree: Tree, tmp_path: Path) -> None:
    dest = tmp_path / "rules"
    dest.mkdir()
    (dest / "stale.conf").write_text("old")
    tree.write({
        "fw/rules/10-base.conf": "accept lo\n",
        "fw/rules/sub/20-{{x}}.conf": "host {{ grains.id }}\n",
        "fw/init.sls": f"{dest}:\n  file.recurse:\n    - source: salt://fw/rules\n    - clean: True\n"
                       "    - template: jinja\n    - file_mode: '0600'\n",
    })
    run = twice(tree, "fw", dest)
    assert sorted(p.name for p in dest.rglob("*") if p.is_file()) == ["10-base.conf", "20-{{x}}.conf"]
    assert (dest / "sub/20-{{x}}.conf").read_text() == "host node1\n"
    assert f"{dest}/stale.conf" in run.results[0].result.changes


def test_contents_from_pillar_and_grains(tree: Tree, tmp_path: Path) -> None:
    tree.write({"pc.sls": f"{tmp_path}/key:\n  file.managed:\n    - contents_pillar: ssh:host_key\n"
                          f"{tmp_path}/id:\n  file.managed:\n    - contents_grains: id\n"
                          f"{tmp_path}/none:\n  file.managed:\n    - contents_pillar: ssh:missing\n"})
    run = tree.run("pc", pillar={"ssh": {"host_key": "-----BEGIN KEY-----\nabc\n-----END KEY-----"}})
    assert (tmp_path / "key").read_text() == "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"
    assert (tmp_path / "id").read_text() == "node1\n"
    assert run[f"{tmp_path}/none"].result is False and "'ssh:missing' was not found" in run[f"{tmp_path}/none"].comment


def test_plans_what_an_earlier_state_makes_possible(tree: Tree, tmp_path: Path) -> None:
    """In test mode a missing parent directory or owner may come from an earlier state (Salt
    plans them too); for real the order makes them exist; ``mode: keep`` leaves the mode."""
    group = grp.getgrgid(os.getgid()).gr_name
    tree.write({"later.sls": f"""
{tmp_path}/new:
  file.directory: []
{tmp_path}/new/conf:
  file.managed:
    - contents: x
    - mode: keep
    - group: {group}
{tmp_path}/new/link:
  file.symlink:
    - target: {tmp_path}/new/conf
""", "owner.sls": f"{tmp_path}/o:\n  file.managed:\n    - contents: x\n    - user: no-such-user-pvc\n"})
    converge(tree, "later")
    planned = tree.run("owner", test=True)
    assert planned.results[0].result.result is None and planned.results[0].result.changes["user"] == "no-such-user-pvc"
    real = tree.run("owner")
    assert real.results[0].result.result is False and "User no-such-user-pvc is not available" in \
        real.results[0].result.comment
