"""Each node's BMC: an OpenIPMI ``ipmi_sim`` on 127.0.0.1/udp, and ``ipmitool`` to talk to it.

The simulator speaks real IPMI 2.0 (RMCP+, what pvc's fencing and pyghmi use); its power
control is wired to the node with ``chassis_control``: the simulator runs
``python -m pvc.lab.chassis DIR NODE get power`` / ``set power 0|1`` / ``set reset 1``
synchronously (see :mod:`pvc.lab.chassis`), so ``chassis power off`` returns once the node is dead.
The password lives in a 0600 file: ipmitool reads it with ``-f`` (never ``-P``: argv is public in
/proc), and lan.conf, which must hold it too, is 0600 in a 0700 directory.

ipmitool needs ``-C 3`` (otherwise it probes cipher suites the simulator does not answer, 10 s
per call) and ``-N 1 -R 1`` (a dead BMC fails after 2 s instead of 20 s); a power change waits
``-N 5`` for its answer (the simulator answers once the chassis program is done, which takes
over a second on a loaded machine, and a retransmitted request is refused). Output is parsed
case-insensitively.

Example::

    power(node.bmc, "off")      # "off": the node's processes are gone
    power(node.bmc, "status")   # "off"
"""

from __future__ import annotations

import re
import secrets
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from pvc.lab import procs
from pvc.lab.errors import LabError, StartFailed
from pvc.lab.state import Bmc, Node

IPMI_SIM = "/usr/bin/ipmi_sim"
IPMITOOL = "/usr/bin/ipmitool"
USER = "admin"
ACTIONS = ("on", "off", "status", "reset", "cycle")
POWER_WAIT = 5  # seconds ipmitool waits for the answer to a power change
_STATE = re.compile(r"chassis power is (on|off)", re.IGNORECASE)
_CONTROL = re.compile(r"chassis power control: (up/on|down/off|reset|cycle)", re.IGNORECASE)

LAN_CONF = """\
name "{name}"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 {port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid {guid}
  endlan
  chassis_control "{chassis}"
  user 1 true "" "unused" user 10 none md2 md5 straight
  user 2 true "{user}" "{password}" admin 10 none md2 md5 straight
"""
NODE_EMU = """\
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02
sel_enable 0x20 1000 0x0a
mc_enable 0x20
"""


def configure(lab_dir: Path, node: str, index: int, port: int) -> Bmc:
    """Write node ``node``'s BMC files (a fresh random password) and return its record."""
    d = Path(lab_dir) / "bmc" / node
    (d / "state").mkdir(parents=True, exist_ok=True)
    d.chmod(0o700)
    chassis = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "pvc.lab.chassis", str(lab_dir), node))
    if '"' in chassis:
        raise LabError(f"the lab directory must not contain '\"' (it goes into ipmi_sim's config): {lab_dir}")
    password = secrets.token_hex(8)  # 16 characters: the most IPMI 1.5 users may have
    password_file = d / "password"
    _write_private(password_file, password)
    _write_private(d / "lan.conf", LAN_CONF.format(name=f"pvc-{node}", port=port, guid=f"{index:032x}",
                                                   chassis=chassis, user=USER, password=password))
    (d / "node.emu").write_text(NODE_EMU)
    return Bmc(host="127.0.0.1", port=port, user=USER, password_file=str(password_file), dir=str(d))


def start(bmc: Bmc) -> int:
    d = Path(bmc.dir)
    return procs.spawn([IPMI_SIM, "-n", "-c", str(d / "lan.conf"), "-f", str(d / "node.emu"), "-s", str(d / "state")],
                       log=d / "sim.log")


def is_running(bmc: Bmc) -> bool:
    return procs.alive(bmc.pid, IPMI_SIM)


def wait_ready(bmc: Bmc, timeout: float = 10.0) -> None:
    """Until the BMC answers ``chassis power status`` (an RMCP+ session, like any client)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            power(bmc, "status")
            return
        except LabError as exc:
            if not is_running(bmc) or time.monotonic() >= deadline:
                log = (Path(bmc.dir) / "sim.log").read_text(errors="replace")[-500:]
                raise StartFailed(f"BMC on 127.0.0.1:{bmc.port} not answering: {exc} {log}") from None
        time.sleep(0.05)


def ipmitool(bmc: Bmc, *args: str, timeout: float = 30.0, wait: int = 1) -> str:
    """Run ipmitool against ``bmc``; ``wait`` is how many seconds it waits for each answer (``-N``)."""
    argv = [IPMITOOL, "-I", "lanplus", "-C", "3", "-N", str(wait), "-R", "1", "-H", bmc.host, "-p", str(bmc.port),
            "-U", bmc.user, "-f", bmc.password_file, *args]
    try:
        proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LabError(f"ipmitool {' '.join(args)} on {bmc.host}:{bmc.port}: no answer in {timeout:g}s") from None
    if proc.returncode != 0:
        raise LabError(f"ipmitool {' '.join(args)} on {bmc.host}:{bmc.port}: "
                       f"{(proc.stderr or proc.stdout).strip() or f'exit {proc.returncode}'}")
    return proc.stdout


def power(bmc: Bmc, action: str) -> str:
    """``chassis power ACTION``; returns "on"/"off" for status, the control word otherwise."""
    if action not in ACTIONS:
        raise LabError(f"power action must be one of {', '.join(ACTIONS)}, not {action!r}")
    out = ipmitool(bmc, "chassis", "power", action, wait=1 if action == "status" else POWER_WAIT)
    match = (_STATE if action == "status" else _CONTROL).search(out)
    if match is None:
        raise LabError(f"ipmitool chassis power {action} on {bmc.host}:{bmc.port}: unexpected answer {out.strip()!r}")
    return match.group(1).lower()


def stop(bmc: Bmc) -> bool:
    return procs.stop(bmc.pid, IPMI_SIM, grace=1.0)


def _write_private(path: Path, text: str) -> None:
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    path.chmod(0o600)


def fence_targets(nodes: Sequence[Node]) -> dict[str, dict[str, object]]:
    """The masters' ``cluster: fence: bmc:`` section: each node's BMC, the password by file."""
    return {n.name: {"host": n.bmc.host, "port": n.bmc.port, "user": n.bmc.user,
                     "password_file": n.bmc.password_file} for n in nodes}
