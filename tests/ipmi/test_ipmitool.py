"""The ipmitool adapter against a stand-in ``ipmitool`` script: the argv it builds (no password,
ever), the environment (no IPMI_PASSWORD), error classes, timeouts and retries. The real thing
is exercised in test_lab.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pvc.ipmi.errors import BmcAuthFailed, BmcCommandFailed, BmcConfigError, BmcUnreachable
from pvc.ipmi.ipmitool import Bmc
from pvc.ipmi.parse import PowerState
from pvc.ipmi.retry import RetryPolicy
from pvc.ipmi.target import BmcTarget

PASSWORD = "pw-Zq81xK"
FAKE = """#!/bin/sh
d=$(dirname "$0")
printf '%s\\n' "$@" > "$d/argv"
env > "$d/env"
echo x >> "$d/calls"
[ -f "$d/stdout" ] && cat "$d/stdout"
[ -f "$d/stderr" ] && cat "$d/stderr" >&2
[ -f "$d/sleep" ] && exec sleep "$(cat "$d/sleep")"  # one process, as ipmitool is
exit "$(cat "$d/rc" 2>/dev/null || echo 0)"
"""


class Fake:
    def __init__(self, d: Path) -> None:
        self.dir = d
        self.tool = d / "ipmitool"
        self.tool.write_text(FAKE)
        self.tool.chmod(0o700)

    def answer(self, stdout: str = "", stderr: str = "", rc: int = 0, sleep: float = 0) -> None:
        (self.dir / "stdout").write_text(stdout)
        (self.dir / "stderr").write_text(stderr)
        (self.dir / "rc").write_text(str(rc))
        if sleep:
            (self.dir / "sleep").write_text(str(sleep))

    @property
    def argv(self) -> list[str]:
        return (self.dir / "argv").read_text().splitlines()

    @property
    def calls(self) -> int:
        return len((self.dir / "calls").read_text().splitlines())


@pytest.fixture
def fake(tmp_path: Path) -> Fake:
    d = tmp_path / "bin"
    d.mkdir()
    return Fake(d)


@pytest.fixture
def bmc(tmp_path: Path, fake: Fake) -> Bmc:
    pw = tmp_path / "bmc.pass"
    pw.write_text(PASSWORD)
    pw.chmod(0o600)
    target = BmcTarget(host="127.0.0.1", port=16231, user="admin", password_file=str(pw))
    return Bmc(target, timeout=2, retry=RetryPolicy(max_tries=3, delay=0.01), ipmitool=str(fake.tool))


def test_argv_names_the_file_never_the_password(bmc: Bmc, fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPMI_PASSWORD", PASSWORD)  # even if the caller's environment has it
    fake.answer("Chassis Power is on\n")
    assert bmc.power_status() is PowerState.ON
    assert fake.argv == ["-v", "-I", "lanplus", "-C", "3", "-N", "1", "-R", "1", "-H", "127.0.0.1", "-p", "16231",
                         "-U", "admin", "-f", bmc.target.password_file, "chassis", "power", "status"]
    assert not any(PASSWORD in a for a in fake.argv) and "-P" not in fake.argv and "-E" not in fake.argv
    env = (fake.dir / "env").read_text()
    assert PASSWORD not in env and "IPMI_PASSWORD" not in env


@pytest.mark.parametrize(("stdout", "state"), [
    ("Chassis Power is off\n", PowerState.OFF),
    ("chassis power is OFF\n", PowerState.OFF),
    ("garbage\n", PowerState.UNKNOWN),
    ("", PowerState.UNKNOWN),
])
def test_status(bmc: Bmc, fake: Fake, stdout: str, state: PowerState) -> None:
    fake.answer(stdout)
    assert bmc.power_status() is state


@pytest.mark.parametrize(("method", "action", "word"), [
    ("power_off", "off", "Down/Off"), ("power_on", "on", "Up/On"), ("power_cycle", "cycle", "Cycle")])
def test_controls(bmc: Bmc, fake: Fake, method: str, action: str, word: str) -> None:
    fake.answer(f"Chassis Power Control: {word}\n")
    getattr(bmc, method)()
    assert fake.argv[-3:] == ["chassis", "power", action]


def test_an_unacknowledged_order_fails(bmc: Bmc, fake: Fake) -> None:
    fake.answer("Chassis Power Control: Up/On\n")
    with pytest.raises(BmcCommandFailed, match=r"BMC admin@127.0.0.1:16231: chassis power off: unexpected answer"):
        bmc.power_off()


def test_wrong_password_is_auth_failed_and_not_retried(bmc: Bmc, fake: Fake) -> None:
    fake.answer(stderr="> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session\n", rc=1)
    with pytest.raises(BmcAuthFailed) as err:
        bmc.power_status()
    assert str(err.value) == ("BMC admin@127.0.0.1:16231: chassis power status: login refused "
                              "(wrong user or password?): RAKP 2 HMAC is invalid")
    assert fake.calls == 1


def test_unreachable_is_retried_by_the_policy(bmc: Bmc, fake: Fake) -> None:
    fake.answer(stderr="Get Auth Capabilities error\nError: Unable to establish IPMI v2 / RMCP+ session\n", rc=1)
    with pytest.raises(BmcUnreachable, match="unreachable: Get Auth Capabilities error"):
        bmc.power_off()
    assert fake.calls == 3


def test_a_refused_command_is_command_failed(bmc: Bmc, fake: Fake) -> None:
    fake.answer(stderr="Set Chassis Power Control to Down/Off failed: Invalid data field in request\n", rc=1)
    with pytest.raises(BmcCommandFailed, match="failed: Set Chassis Power Control to Down/Off failed"):
        bmc.power_off()
    assert fake.calls == 1


def test_a_hung_ipmitool_is_killed_at_the_timeout(bmc: Bmc, fake: Fake) -> None:
    fake.answer("Chassis Power is off\n", sleep=30)
    slow = Bmc(bmc.target, timeout=0.3, retry=RetryPolicy(max_tries=1), ipmitool=bmc.ipmitool)
    t0 = time.monotonic()
    with pytest.raises(BmcUnreachable, match="no answer within 0.3 s"):
        slow.power_status()
    assert time.monotonic() - t0 < 1.5


def test_the_deadline_bounds_retries_and_calls(bmc: Bmc, fake: Fake) -> None:
    fake.answer(sleep=30)
    patient = Bmc(bmc.target, timeout=10, retry=RetryPolicy(max_tries=5, delay=0.01), ipmitool=bmc.ipmitool)
    t0 = time.monotonic()
    with pytest.raises(BmcUnreachable):
        patient.power_status(deadline=t0 + 0.4)
    assert time.monotonic() - t0 < 1.5


def test_a_missing_ipmitool_is_command_failed(bmc: Bmc, tmp_path: Path) -> None:
    gone = Bmc(bmc.target, ipmitool=str(tmp_path / "no-ipmitool"))
    with pytest.raises(BmcCommandFailed, match="is not installed"):
        gone.power_status()


def test_a_password_file_made_public_later_is_refused(bmc: Bmc, fake: Fake) -> None:
    Path(bmc.target.password_file).chmod(0o644)
    with pytest.raises(BmcConfigError, match="has mode 0644"):
        bmc.power_status()
    assert not (fake.dir / "calls").exists()
