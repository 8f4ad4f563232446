"""Permission problems are one line that says what to do, never a traceback."""

from __future__ import annotations

import errno
import os

import pytest
from click.testing import CliRunner

from pvc.cli import connect
from pvc.cli.main import cli


def test_closed_directory_is_permission_denied_not_not_running(monkeypatch, tmp_path):
    sock = str(tmp_path / "run" / "client.ipc")

    def stat(path, *a, **kw):  # what a non-root user sees under the master's 0700 run dir
        if path == sock:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return os.lstat(path)

    monkeypatch.setattr(connect.os, "stat", stat)
    with pytest.raises(connect.PermissionDenied, match=r"permission denied: .*client.ipc \(run as root"):
        connect.check_access(sock)


def test_unusable_socket_is_permission_denied(monkeypatch, tmp_path):
    sock = tmp_path / "client.ipc"
    sock.write_text("")
    monkeypatch.setattr(connect.os, "access", lambda path, mode: False)
    with pytest.raises(connect.PermissionDenied):
        connect.check_access(str(sock), os.R_OK | os.W_OK)


def test_absent_socket_is_left_to_the_client(tmp_path):
    connect.check_access(str(tmp_path / "nope" / "client.ipc"))


def test_permission_error_at_the_cli_edge_is_one_line(monkeypatch, tmp_path):
    def refuse(config_dir: str):
        raise PermissionError(errno.EACCES, "Permission denied", "/var/lib/pvc/pki/master/minions")

    monkeypatch.setattr("pvc.cli.connect.open_client", refuse)
    res = CliRunner().invoke(cli, ["job", "list"])
    assert res.exit_code == 2
    assert res.stderr == "Error: permission denied: /var/lib/pvc/pki/master/minions (run as root, e.g. with sudo)\n"
    assert not isinstance(res.exception, PermissionError)


def test_message_names_the_owner_when_not_root(monkeypatch, tmp_path):
    monkeypatch.setattr(connect, "_owner", lambda path: "pvc")
    assert str(connect.permission_denied("/x")) == "permission denied: /x (run as root or as user 'pvc')"
