"""The ipmitool adapter against real BMCs (``ipmi_sim`` of a ``pvc lab`` node): status, a fence
that really kills the node and is confirmed, power-on bringing the minion back, a wrong password,
a dead BMC, and the password never on any process's command line. Tests run in file order on one
lab: hv2 is fenced and brought back, hv1 stays untouched until the cycle at the end."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pvc.client import Client
from pvc.ipmi import Bmc, BmcAuthFailed, BmcUnreachable, PowerState, RetryPolicy, confirm_off, load_target
from pvc.lab import procs
from tests.cluster.wait import wait_for
from tests.lab.conftest import RunningLab

pytestmark = pytest.mark.timeout(120)


def bmc_config(lab: RunningLab, node: str, **override: Any) -> dict[str, Any]:
    """A node's config as the fencer would read it: a ``bmc`` section naming the password file."""
    b = lab.node(node)["bmc"]
    return {"bmc": {"host": b["host"], "port": b["port"], "user": b["user"], "password_file": b["password_file"],
                    **override}}


def bmc_of(lab: RunningLab, node: str, **kwargs: Any) -> Bmc:
    return Bmc(load_target(bmc_config(lab, node), where=f"node {node}"), **kwargs)


def ping(client: Client, node: str) -> bool:
    result = client.run([node], "test.ping", timeout=1)
    return any(ret.ok and ret.data is True for ret in result.returns.values())


def test_status_reads_on(lab: RunningLab) -> None:
    bmc = bmc_of(lab, "hv1")
    t0 = time.monotonic()
    assert bmc.power_status() is PowerState.ON
    took = time.monotonic() - t0
    assert took < 2, took
    print(f"\nstatus {took * 1000:.0f} ms")


def test_password_is_never_on_a_command_line(lab: RunningLab) -> None:
    """While the adapter runs ipmitool, no process's argv (nor ipmitool's environment) holds it."""
    password = Path(lab.node("hv1")["bmc"]["password_file"]).read_text().strip()
    assert len(password) >= 8
    bmc = bmc_of(lab, "hv1")
    done, leaks, seen = threading.Event(), [], []

    def watch() -> None:
        while not done.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                    if "ipmitool" in argv and "chassis" in argv:
                        seen.append(pid)
                        if password in Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace"):
                            leaks.append(f"environ of {pid}")
                except OSError:
                    continue
                if password in argv:
                    leaks.append(f"cmdline of {pid}: {argv!r}")

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        t0 = time.monotonic()
        while not seen and time.monotonic() - t0 < 10:
            assert bmc.power_status() is PowerState.ON
    finally:
        done.set()
        watcher.join(5)
    assert seen, "never caught ipmitool running: the check proved nothing"
    assert not leaks, leaks


def test_wrong_password_is_refused_quickly(lab: RunningLab, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not-the-password")
    wrong.chmod(0o600)
    bmc = Bmc(load_target(bmc_config(lab, "hv1", password_file=str(wrong)), where="node hv1"))
    t0 = time.monotonic()
    with pytest.raises(BmcAuthFailed, match=r"^BMC admin@127\.0\.0\.1:\d+: chassis power status: login refused"):
        bmc.power_status()
    took = time.monotonic() - t0
    assert took < 1.0, took  # not retried
    with pytest.raises(BmcAuthFailed):  # and a fence with it fails at once, unconfirmed
        bmc.power_off()
    assert bmc_of(lab, "hv1").power_status() is PowerState.ON  # the right password still works


def test_a_dead_bmc_is_unreachable_within_the_timeout(lab: RunningLab) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # a UDP port nobody answers on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bmc = Bmc(load_target(bmc_config(lab, "hv1", port=port), where="node hv1"), timeout=3,
              retry=RetryPolicy(max_tries=2, delay=0.1))
    t0 = time.monotonic()
    with pytest.raises(BmcUnreachable, match=rf"^BMC admin@127\.0\.0\.1:{port}: chassis power status: unreachable"):
        bmc.power_status()
    took = time.monotonic() - t0
    assert took < 2 * 3 + 0.5, took
    t0 = time.monotonic()
    result = confirm_off(bmc, deadline=1.5, poll=0.2)
    took = time.monotonic() - t0
    assert not result.confirmed and result.state is PowerState.UNKNOWN
    assert isinstance(result.error, BmcUnreachable) and took < 1.5 + 0.5, (result, took)
    print(f"\ndead BMC: unreachable after {took:.2f} s (2 tries of ipmitool -N 1 -R 1)")


def test_confirm_off_really_kills_the_node(lab: RunningLab) -> None:
    before = lab.node("hv2")
    bystander = lab.node("hv1")
    node_pids = procs.in_pid_namespace(before["init_pid"])
    assert before["minion_pid"] in node_pids and before["libvirtd_pid"] in node_pids
    bmc = bmc_of(lab, "hv2")
    result = confirm_off(bmc, deadline=10, poll=0.1)
    assert result.confirmed and result.state is PowerState.OFF and result.error is None, result
    assert result.elapsed < 3, result  # ~0.1-0.3 s idle: ipmi_sim's chassis_control is synchronous
    assert procs.wait_dead(node_pids, timeout=2), [p for p in node_pids if procs.alive(p)]
    assert procs.alive(bystander["init_pid"]) and procs.alive(bystander["minion_pid"])
    assert bmc.power_status() is PowerState.OFF
    print(f"\npower off -> confirmed off {result.elapsed:.2f} s ({result.attempts} status readings), "
          f"{len(node_pids)} node processes gone")


def test_power_on_brings_the_minion_back(lab: RunningLab) -> None:
    bmc = bmc_of(lab, "hv2")
    with Client(lab.master_dir) as client:
        assert not ping(client, "hv2")
        t0 = time.monotonic()
        bmc.power_on()
        assert bmc.power_status() is PowerState.ON
        wait_for(lambda: ping(client, "hv2"), 30, "hv2's minion back")
        took = time.monotonic() - t0
    assert procs.alive(lab.node("hv2")["minion_pid"])
    print(f"\npower on -> minion answers {took:.2f} s")


def test_power_cycle_restarts_the_node(lab: RunningLab) -> None:
    before = lab.node("hv1")["init_pid"]
    bmc_of(lab, "hv1").power_cycle()
    assert procs.wait_dead([before], timeout=5)
    wait_for(lambda: lab.node("hv1")["init_pid"] not in (0, before) and procs.alive(lab.node("hv1")["init_pid"]),
             30, "hv1 booted again")
    assert bmc_of(lab, "hv1").power_status() is PowerState.ON
