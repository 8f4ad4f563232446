"""A node's base configuration written the way saltstack-formulas are (tests/states/trees/base:
sysctl, users with keys and sudoers, ntp with map.jinja + filter_by + import_yaml, a motd from
grains/pillar, hosts), applied as one highstate inside a network namespace the test creates
(so sysctl touches only that namespace): test mode changes nothing, the first run converges,
the second reports no changes."""

from __future__ import annotations

import json
import pwd
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

TREE = Path(__file__).parent / "trees"


def main() -> None:
    """Runs inside the namespace: argv = root, user prefix; prints one JSON summary line."""
    from tests.states.conftest import Tree

    root, prefix = sys.argv[1], sys.argv[2]
    pillar = yaml.safe_load((TREE / "pillar.yaml").read_text().replace("ROOT", root).replace("USER_", prefix))
    tree = Tree(TREE / "base", {"config": {"options": {"hosts.file": f"{root}/etc/hosts", "motd": {"site": "lab"}}}})
    summary: dict[str, Any] = {}
    for label, test in (("plan", True), ("apply", False), ("again", False)):
        run = tree.run("node", pillar=pillar, test=test)
        summary[label] = {r.chunk.id: [r.result.result, bool(r.result.changes), r.result.comment] for r in run.results}
        if label == "plan":
            summary["files_after_plan"] = sorted(str(p) for p in Path(root).rglob("*"))
    print(json.dumps(summary))


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"pvcf{uuid.uuid4().hex[:5]}"
    yield name
    for user in ("a", "b"):
        subprocess.run(["userdel", "-r", f"{name}{user}"], check=False, capture_output=True)
        subprocess.run(["groupdel", f"{name}{user}"], check=False, capture_output=True)


def test_node_highstate_from_a_formula_style_tree(netns: str, tmp_path: Path, prefix: str) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n10.0.0.99\tnode2\n")
    script = "from tests.states.test_formula_tree import main; main()"
    out = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", script, str(root), prefix],
                         check=False, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    plan, apply, again = summary["plan"], summary["apply"], summary["again"]
    assert summary["files_after_plan"] == [f"{root}/etc", f"{root}/etc/hosts"]     # test mode wrote nothing
    assert plan["ntp-conf"][0] is None and plan["sysctl-present-net.ipv4.ip_forward"][0] is None
    assert all(res[0] is not False for res in apply.values()), {k: v for k, v in apply.items() if v[0] is False}
    assert all(not res[1] for res in again.values()), {k: v for k, v in again.items() if v[1]}
    assert list(apply) == list(again) and list(apply)[-1] == "node-configured"

    ntp = (root / "etc/ntp.conf").read_text()
    assert ntp == "# node1 (Debian 12)\nserver 10.0.0.1 iburst\nserver 10.0.0.2 iburst\ndriftfile /var/lib/ntp/ntp.drift\n"
    assert (root / "ntp.restarted").exists() and apply["ntp-restart-marker"][1]
    assert (root / "etc/motd").read_text() == "Welcome to node1\nroles: hypervisor; lab\n"
    assert (root / "etc/sysctl.d/99-salt.conf").read_text() == \
        "net.ipv4.conf.all.rp_filter = 2\nnet.ipv4.ip_forward = 1\n"
    assert (root / "etc/hosts").read_text() == "127.0.0.1\tlocalhost\n10.0.0.11\tnode1\n10.0.0.12\tnode2\n"
    sudoer = root / f"sudoers.d/{prefix}a"
    assert sudoer.read_text() == f"# managed by pvc (node1)\n{prefix}a ALL=(ALL) NOPASSWD: ALL\n"
    assert oct(sudoer.stat().st_mode)[-3:] == "440" and not (root / f"sudoers.d/{prefix}b").exists()
    keys = (root / f"home/{prefix}a/.ssh/authorized_keys").read_text()
    assert keys.startswith("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5") and keys.endswith(" a@laptop\n")
    assert pwd.getpwnam(f"{prefix}a").pw_gecos == 'Operator "A"' and pwd.getpwnam(f"{prefix}b").pw_shell == "/bin/sh"
    forward = subprocess.run(["ip", "netns", "exec", netns, "cat", "/proc/sys/net/ipv4/ip_forward"],
                             check=False, capture_output=True, text=True, timeout=30)
    assert forward.stdout.strip() == "1"
