"""Faults a test or a benchmark inflicts on a lab node: a hang, a power cut, a crashed QEMU.

Each acts on real processes by PID, as the fault would on hardware:

* :func:`hang` — the node's minion and every QEMU stop (SIGSTOP): no keepalive, no guest
  progress, while its libvirtd still answers (a fencer must not be fooled by that);
  :func:`resume` undoes it (SIGCONT);
* :func:`cut_power` — ``chassis power off`` through the node's BMC, the way a PDU or a fencer
  would; returns once the BMC reads off; :func:`power` switches either way and waits;
* :func:`qemu_pids` — the QEMU of one VM (or all) on a node, for killing one.

Example::

    hang(Path("/tmp/lab"), "hv1")          # VMs should run elsewhere within seconds
    cut_power(Path("/tmp/lab"), "hv2")
    os.kill(qemu_pids(Path("/tmp/lab"), "hv3", "vm4")[0], signal.SIGKILL)
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from pvc.lab import bmc, procs, state
from pvc.lab.errors import LabError

POWER_OFF_TIMEOUT = 20.0


def qemu_pids(lab_dir: Path, node: str, vm: str | None = None) -> list[int]:
    """Host PIDs of the node's QEMU processes (only VM ``vm``'s when named)."""
    marker = f"guest={vm}," if vm else "qemu-system"
    init = state.load(lab_dir).node(node).init_pid
    return [p for p in procs.in_pid_namespace(init) if marker in procs.cmdline(p)]


def _signal_node(lab_dir: Path, node: str, sig: signal.Signals) -> list[int]:
    pids = [state.load(lab_dir).node(node).minion_pid, *qemu_pids(lab_dir, node)]
    for pid in pids:
        procs.signal_pid(pid, sig)
    return pids


def hang(lab_dir: Path, node: str) -> list[int]:
    """Stop the node's minion and QEMUs; returns their PIDs."""
    return _signal_node(lab_dir, node, signal.SIGSTOP)


def resume(lab_dir: Path, node: str) -> list[int]:
    return _signal_node(lab_dir, node, signal.SIGCONT)


def cut_power(lab_dir: Path, node: str) -> None:
    """Power the node off through its BMC and wait until the BMC reads off."""
    power(lab_dir, node, "off")


def power(lab_dir: Path, node: str, action: str, timeout: float = POWER_OFF_TIMEOUT) -> None:
    """Switch the node ``on`` or ``off`` through its BMC and wait until the BMC reads so. On a
    loaded machine ipmitool (1 s per try, one retry) may give up on an answer that comes late:
    the order is sent again until the reading agrees, within ``timeout``."""
    target = state.load(lab_dir).node(node).bmc
    deadline = time.monotonic() + timeout
    error: LabError | None = None
    while time.monotonic() < deadline:
        try:
            if bmc.power(target, "status") == action:
                return
            bmc.power(target, action)
        except LabError as exc:
            error = exc
        time.sleep(0.2)
    log = (Path(target.dir) / "chassis.log").read_text(errors="replace")[-600:]
    raise LabError(f"{node}: BMC does not read {action} {timeout:g} s after power {action} ({error}): {log}")
