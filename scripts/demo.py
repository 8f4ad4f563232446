"""`make demo`: a 3-node hypervisor cluster on this machine (`pvc lab`), VMs on it, maintenance.

Every step is the `pvc` CLI an operator would type, printed with its output and its time:

1. `pvc lab up --dir /tmp/pvc-demo --nodes 3 --masters 2 --vms 0`: ZooKeeper, two masters, three
   network-namespace nodes each with its own libvirtd, minion and IPMI BMC;
2. `pvc vm define vmK.xml --node hvN` four times: tiny TCG guests (a kernel printing `tick N`),
   recorded in ZooKeeper and started on their node;
3. `pvc node list`, `pvc vm list`;
4. `pvc node flush hv1 --wait`: hv1's VMs live-migrate away, with progress; `pvc vm list`;
5. `pvc node ready hv1 --wait`: they come back;
6. `pvc run '*' test.ping` through the second master;
7. `pvc lab power hv2 off`: the node dies as in a power loss; the primary declares it dead, fences it
   through its BMC (power-off confirmed), and starts its VMs on the other nodes: the demo prints the
   time from the power-off until they run, then `pvc node list` (hv2 `fenced`) and `pvc vm list`;
8. `pvc lab down --dir /tmp/pvc-demo --rm`, always, also after a failure.

A failing step stops the demo with exit code 1 after its output; the lab is still taken down, and
its directory (logs) is kept for a look.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from pvc.lab import guests, state
from pvc.virt.domain import domain_xml, parse_spec

LAB_DIR = Path("/tmp/pvc-demo")
VMS = {"vm1": "hv1", "vm2": "hv2", "vm3": "hv3", "vm4": "hv1"}  # hv1 has two VMs to flush
RECOVERY_WAIT = 90.0  # seconds: the target is < 15 s; a loaded box gets room, the demo still ends


class StepFailed(Exception):
    pass


def pvc(*args: str, timeout: float = 900) -> None:
    """Run `pvc ARGS`, print the command and its time; raise StepFailed on a non-zero exit.

    Its output goes straight to this terminal, so `--wait` progress shows as it happens."""
    print(f"\n$ pvc {' '.join(shlex.quote(a) for a in args)}", flush=True)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pvc.cli.main", *args], timeout=timeout, check=False)
    print(f"  [{time.monotonic() - start:.1f}s, exit {proc.returncode}]", flush=True)
    if proc.returncode != 0:
        raise StepFailed(f"`pvc {' '.join(args)}` failed with exit code {proc.returncode}")


def write_guest_xml(lab: state.Lab, name: str, out_dir: Path) -> Path:
    """The lab's tiny guest (pvc.lab.guests.spec) as domain XML, for `pvc vm define FILE.xml`."""
    xml = domain_xml(parse_spec(guests.spec(name)), console_dir=str(Path(lab.dir) / "console"))
    path = out_dir / f"{name}.xml"
    path.write_text(xml)
    return path


def demo() -> None:
    pvc("lab", "up", "--dir", str(LAB_DIR), "--nodes", "3", "--masters", "2", "--vms", "0")
    lab = state.load(LAB_DIR)
    first, second = lab.masters[0].config_dir, lab.masters[1].config_dir
    print(f"\nmasters: {', '.join(m.name for m in lab.masters)}; nodes: {', '.join(n.name for n in lab.nodes)}; "
          f"ZooKeeper {lab.zookeeper.hosts}", flush=True)
    xml_dir = LAB_DIR / "demo-xml"
    xml_dir.mkdir(exist_ok=True)
    for name, node in VMS.items():
        pvc("-c", first, "vm", "define", str(write_guest_xml(lab, name, xml_dir)), "--node", node)
    pvc("-c", first, "node", "list")
    pvc("-c", first, "vm", "list")
    pvc("-c", first, "node", "flush", "hv1", "--wait")
    pvc("-c", first, "vm", "list")
    pvc("-c", first, "node", "ready", "hv1", "--wait")
    pvc("-c", first, "vm", "list")
    pvc("-c", second, "run", "*", "test.ping")
    on_hv2 = [name for name, node in VMS.items() if node == "hv2"]
    pvc("lab", "power", "--dir", str(LAB_DIR), "hv2", "off")
    seconds = wait_recovered(first, on_hv2, RECOVERY_WAIT)
    print(f"\nhv2 lost its power; {', '.join(on_hv2)} running again elsewhere {seconds:.1f}s later "
          f"(fenced first: its BMC confirmed the power off)", flush=True)
    pvc("-c", first, "node", "list")
    pvc("-c", first, "vm", "list")


def wait_recovered(config_dir: str, names: list[str], timeout: float) -> float:
    """Seconds until every VM of ``names`` runs on a node other than hv2 (StepFailed after
    ``timeout``)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        proc = subprocess.run([sys.executable, "-m", "pvc.cli.main", "-c", config_dir, "vm", "list", "--out", "json"],
                              capture_output=True, text=True, timeout=60, check=False)
        rows = {r["name"]: r for r in json.loads(proc.stdout or "[]")} if proc.returncode == 0 else {}
        if all(rows.get(n, {}).get("state") == "running" and rows[n].get("node") != "hv2" for n in names):
            return time.monotonic() - start
        time.sleep(0.5)
    raise StepFailed(f"{', '.join(names)} not running elsewhere {timeout:.0f}s after hv2 lost its power")


def main() -> int:
    if state.exists(LAB_DIR):
        print(f"a lab from an earlier run is in {LAB_DIR}: taking it down first", flush=True)
        pvc("lab", "down", "--dir", str(LAB_DIR), "--rm")
    start = time.monotonic()
    failure: StepFailed | None = None
    try:
        demo()
    except StepFailed as exc:
        failure = exc
    finally:
        try:  # after a failure the directory stays, with the daemons' logs
            pvc("lab", "down", "--dir", str(LAB_DIR), *(["--rm"] if failure is None else []))
        except StepFailed as exc:
            failure = failure or exc
    if failure is not None:
        print(f"\nDEMO FAILED: {failure} (logs: {LAB_DIR}/)", file=sys.stderr, flush=True)
        return 1
    print(f"\ndemo done in {time.monotonic() - start:.0f}s: lab down, nothing left running", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
