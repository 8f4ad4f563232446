"""A rolling node upgrade as an orchestration on a real lab (ZooKeeper, coordinators, minions in
network namespaces): for each node, ``node.flush`` -> a job on it -> ``node.ready``, the next node
only once the previous is back in service."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.runners.conftest import ClusterLab

ROLLING = """{% for node in ['hv1', 'hv2'] %}
flush-{{ node }}:
  pvc.runner:
    - name: node.flush
    - node: {{ node }}
    - wait: true
{%- if not loop.first %}
    - require:
      - pvc: ready-{{ loop.previtem }}
{%- endif %}
upgrade-{{ node }}:
  pvc.function:
    - name: test.echo
    - tgt: {{ node }}
    - arg: ["upgraded {{ node }}"]
    - require:
      - pvc: flush-{{ node }}
ready-{{ node }}:
  pvc.runner:
    - name: node.ready
    - node: {{ node }}
    - wait: true
    - require:
      - pvc: upgrade-{{ node }}
{% endfor %}
"""


def test_rolling_upgrade_one_node_at_a_time(cluster_lab: ClusterLab, tmp_path: Path) -> None:
    cl = cluster_lab
    salt = tmp_path / "salt"
    (salt / "orch").mkdir(parents=True)
    (salt / "orch" / "rolling.sls").write_text(ROLLING)
    config = Path(cl.master_dir) / "master"  # the runner reads file_roots from here (the master needs none)
    cfg = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**cfg, "file_roots": {"base": [str(salt)]}}))
    try:
        proc = cl.pvc("runner", "state.orchestrate", "orch.rolling", "--out", "json", timeout=600)
    finally:
        config.write_text(yaml.safe_dump(cfg))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    steps = sorted(json.loads(proc.stdout).values(), key=lambda v: v["__run_num__"])
    assert [(s["__id__"], s["result"]) for s in steps] == [
        (f"{step}-{node}", True) for node in ("hv1", "hv2") for step in ("flush", "upgrade", "ready")]
    flush = steps[0]["changes"]["return"]  # carried out by the primary coordinator
    assert (flush["kind"], flush["node"], flush["state"]) == ("flush", "hv1", "done") and flush["owner"]
    assert steps[1]["changes"] == {"ret": {"hv1": "upgraded hv1"}}
    for node in ("hv1", "hv2"):
        assert cl.fake.store.node(node).record.domain_state.value == "ready"
