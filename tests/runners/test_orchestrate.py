"""``pvc runner state.orchestrate`` against a real master and two real minions (no ZooKeeper needed):
steps in requisite order one node at a time, Salt's ``salt.*`` names, fail-fast, test mode."""

from __future__ import annotations

import json

import pytest

from tests.cluster.pvc import PvcCluster

ROLLING = """{% for node in pillar.get('nodes', ['m1', 'm2']) %}
flush-{{ node }}:
  pvc.function:
    - name: test.echo
    - tgt: {{ node }}
    - arg: ["flush {{ node }}"]
{%- if not loop.first %}
    - require:
      - salt: ready-{{ loop.previtem }}
{%- endif %}
apply-{{ node }}:
  pvc.state:
    - tgt: {{ node }}
    - sls: [{{ pillar.get('sls', 'upgrade') }}]
    - require:
      - pvc: flush-{{ node }}
ready-{{ node }}:
  salt.runner:
    - name: sys.list
    - require:
      - pvc: apply-{{ node }}
{% endfor %}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("orch")
    salt = root / "srv" / "salt"
    (salt / "orch").mkdir(parents=True)
    (salt / "orch" / "rolling.sls").write_text(ROLLING)
    (salt / "upgrade.sls").write_text(f"{root}/out/{{{{ grains.id }}}}:\n  file.managed:\n    - makedirs: true\n"
                                      "    - contents: upgraded\n")
    (salt / "broken.sls").write_text("boom:\n  test.fail_without_changes: []\n")
    with PvcCluster(root, master_options={"file_roots": {"base": [str(salt)]}}) as c:
        c.start_master()
        c.add_minion("m1")
        c.add_minion("m2")
        c.wait_connected(["m1", "m2"])
        c.root_out = root / "out"  # type: ignore[attr-defined]
        yield c


def _orch(c: PvcCluster, *args: str):
    return c.pvc("runner", "-c", str(c.master_dir), "state.orchestrate", *args, timeout=120)


def _steps(stdout: str) -> list[tuple[str, bool | None]]:
    data = json.loads(stdout)
    return [(v["__id__"], v["result"]) for v in sorted(data.values(), key=lambda v: v["__run_num__"])]


def test_rolling_steps_run_in_order_one_node_at_a_time(cluster):
    proc = _orch(cluster, "orch.rolling", "--out", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _steps(proc.stdout) == [(f"{step}-{n}", True) for n in ("m1", "m2") for step in ("flush", "apply", "ready")]
    assert (cluster.root_out / "m1").read_text() == (cluster.root_out / "m2").read_text() == "upgraded\n"
    data = json.loads(proc.stdout)
    flush = next(v for v in data.values() if v["__id__"] == "flush-m1")
    assert flush["changes"] == {"ret": {"m1": "flush m1"}}


def test_a_failed_step_stops_the_orchestration(cluster):
    proc = _orch(cluster, "orch.rolling", 'pillar={"sls": "broken"}')
    assert proc.returncode == 1
    assert "ID: apply-m1" in proc.stdout and "Run failed on minions: m1: boom" in proc.stdout
    assert "flush-m2" not in proc.stdout  # fail-fast: m2 was never touched
    assert "Failed:    1" in proc.stdout


def test_test_mode_runs_no_function_and_plans_states(cluster):
    proc = _orch(cluster, "orch.rolling", "--test", "--out", "json", 'pillar={"nodes": [m1]}')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert dict(_steps(proc.stdout)) == {"flush-m1": None, "apply-m1": True, "ready-m1": None}


def test_unknown_sls_is_a_one_line_error(cluster):
    proc = _orch(cluster, "orch.nope")
    assert proc.returncode == 2 and proc.stderr.startswith("Error:") and "orch.nope" in proc.stderr
