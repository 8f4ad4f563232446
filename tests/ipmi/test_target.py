"""Loading a node's ``bmc`` section: types, ranges, and a password file only its owner can read."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from pvc.errors import ConfigError, PvcError
from pvc.ipmi.errors import BmcConfigError
from pvc.ipmi.target import BmcTarget, load_target


@pytest.fixture
def pwfile(tmp_path: Path) -> Path:
    p = tmp_path / "bmc.pass"
    p.write_text("s3cret\n")
    p.chmod(0o600)
    return p


def node(pwfile: Path, **bmc: Any) -> dict[str, Any]:
    return {"bmc": {"host": "10.0.0.5", "user": "admin", "password_file": str(pwfile), **bmc}}


def test_loads_with_defaults_and_is_frozen(pwfile: Path) -> None:
    t = load_target(node(pwfile), where="node hv1")
    assert t == BmcTarget(host="10.0.0.5", user="admin", password_file=str(pwfile), port=623,
                          interface="lanplus", cipher=3)
    assert t.label == "admin@10.0.0.5:623"
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.host = "x"  # type: ignore[misc]


def test_all_options(pwfile: Path) -> None:
    t = load_target(node(pwfile, port=16231, interface="lan", cipher=1), where="node hv1")
    assert (t.port, t.interface, t.cipher) == (16231, "lan", 1)


@pytest.mark.parametrize(("bmc", "message"), [
    ({"port": "623"}, "node hv1: bmc: option 'port' must be an integer, got a string"),
    ({"port": True}, "option 'port' must be an integer, got a boolean"),
    ({"port": 0}, "option 'port' must be 1..65535"),
    ({"port": 70000}, "option 'port' must be 1..65535"),
    ({"cipher": 18}, "option 'cipher' must be 0..17"),
    ({"interface": "open"}, "option 'interface' must be one of lanplus, lan"),
    ({"host": "-P secret"}, "option 'host' '-P secret' is not a host name"),
    ({"host": ""}, "option 'host'"),
    ({"user": ""}, "option 'user' must be 1..16"),
    ({"passwrd": "x"}, "option 'passwrd' is unknown"),
    ({"password_file": "relative/pass"}, "must be an absolute path"),
    ({"password_file": "/nonexistent/bmc.pass"}, "password file /nonexistent/bmc.pass does not exist"),
])
def test_refuses_bad_values(pwfile: Path, bmc: dict[str, Any], message: str) -> None:
    with pytest.raises(BmcConfigError, match=message.replace("?", r"\?").replace("(", r"\(")):
        load_target(node(pwfile, **bmc), where="node hv1")


def test_missing_section_or_option(pwfile: Path) -> None:
    with pytest.raises(BmcConfigError, match="node hv1: no 'bmc' section"):
        load_target({}, where="node hv1")
    with pytest.raises(BmcConfigError, match="option 'password_file' is required"):
        load_target({"bmc": {"host": "h", "user": "u"}}, where="node hv1")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o620, 0o602])
def test_refuses_a_password_file_others_can_access(pwfile: Path, mode: int) -> None:
    pwfile.chmod(mode)
    with pytest.raises(BmcConfigError) as err:
        load_target(node(pwfile), where="node hv1")
    assert f"has mode {mode:04o}" in str(err.value) and f"chmod 600 {pwfile}" in str(err.value)
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_accepts_private_modes(pwfile: Path, mode: int) -> None:
    pwfile.chmod(mode)
    load_target(node(pwfile), where="node hv1")


def test_refuses_a_directory(tmp_path: Path) -> None:
    d = tmp_path / "dir"
    d.mkdir(mode=0o700)
    with pytest.raises(BmcConfigError, match="is not a regular file"):
        load_target(node(d), where="node hv1")


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_refuses_a_file_of_another_user(pwfile: Path) -> None:
    os.chown(pwfile, 65534, 65534)
    with pytest.raises(BmcConfigError, match="belongs to uid 65534"):
        load_target(node(pwfile), where="node hv1")


def test_errors_are_pvc_and_config_errors(pwfile: Path) -> None:
    with pytest.raises(BmcConfigError) as err:
        load_target(node(pwfile, port=0), where="node hv1")
    assert isinstance(err.value, PvcError) and isinstance(err.value, ConfigError)
