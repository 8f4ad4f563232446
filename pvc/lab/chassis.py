"""The program a node's BMC (``ipmi_sim`` ``chassis_control``) runs to read and switch power.

Protocol (OpenIPMI lanserv): ``chassis DIR NODE get power`` prints ``power:1`` or ``power:0``;
``set power 0`` cuts the node's power and returns once it is dead (the simulator waits, so
``ipmitool chassis power off`` is synchronous); ``set power 1`` records the power as on and boots
the node in a detached process (the simulator must not wait for a boot, and status reads "on" at
once, as on real hardware); ``set reset 1`` is off then on. The power state is the node's
``power`` field in lab.json, so a power-on of a node that is on is a no-op, like a real BMC.

Runs on every power query: imports only what each verb needs.

Example (what ipmi_sim runs)::

    python -m pvc.lab.chassis /tmp/lab hv1 set power 0
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def _log(lab_dir: Path, node: str, *words: object) -> None:
    try:
        with open(lab_dir / "bmc" / node / "chassis.log", "a") as fh:
            print(f"{time.time():.3f}", *words, file=fh)
    except OSError:
        pass


def get_power(lab_dir: Path, node: str) -> bool:
    from pvc.lab import state

    return state.load(lab_dir).node(node).power == "on"


def boot_detached(lab_dir: Path, node: str) -> None:
    """Mark the node on and boot it in a separate session (outlives this program and the BMC)."""
    from pvc.lab import procs, state

    state.update_node(lab_dir, node, power="on")
    procs.spawn([sys.executable, "-m", "pvc.lab.chassis", str(lab_dir), node, "boot"],
                log=lab_dir / "bmc" / node / "chassis.log")


def set_power(lab_dir: Path, node: str, key: str, value: str) -> None:
    from pvc.lab import node as nodes

    if key == "power" and value == "0":
        gone = nodes.power_off(lab_dir, node)
        _log(lab_dir, node, f"power off: node dead after {gone * 1000:.1f} ms")
    elif key == "power" and value == "1":
        if not get_power(lab_dir, node):
            boot_detached(lab_dir, node)
    elif key == "reset" and value == "1":
        nodes.power_off(lab_dir, node)
        boot_detached(lab_dir, node)


def main(argv: list[str]) -> int:
    lab_dir, node, verb, *rest = argv
    path = Path(lab_dir)
    try:
        if verb == "get":
            for key in rest:
                if key == "power":
                    print(f"power:{int(get_power(path, node))}")
        elif verb == "set":
            _log(path, node, "set", *rest)
            for key, value in zip(rest[::2], rest[1::2], strict=False):
                set_power(path, node, key, value)
        elif verb == "boot":
            from pvc.lab import node as nodes

            t0 = time.monotonic()
            nodes.power_on(path, node)
            _log(path, node, f"booted in {time.monotonic() - t0:.2f} s")
        else:
            _log(path, node, "unknown request", verb, *rest)
            return 1
    except Exception as exc:  # noqa: BLE001 - the BMC only sees the exit code: the log keeps the reason
        _log(path, node, f"{verb} {' '.join(rest)} failed: {type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
