"""A formula-style node config through a real master: map.jinja with grains.filter_by and
import_yaml, a templated file from the tree (salt:// source, template: jinja) fed by grains and
pillar, include and requisites; idempotent on the second run; test mode touches nothing."""

from __future__ import annotations

import pytest

from tests.cluster.pvc import PvcCluster

DEFAULTS = """ntp:
  servers: [0.pool.ntp.org]
  conf: {{ out }}/{{ grains.id }}/ntp.conf
  owner: root
"""
MAP = """{% import_yaml "ntp/defaults.yaml" as defaults %}
{% set osmap = salt['grains.filter_by']({
    'Debian': {'service': 'ntpsec'},
    'RedHat': {'service': 'chronyd'},
}, grain='os_family', merge=salt['pillar.get']('ntp:lookup', {}), default='Debian') %}
{% set ntp = salt['defaults.merge'](defaults.ntp, osmap, in_place=False) %}
{% do ntp.update(salt['pillar.get']('ntp', {})) %}
"""
INIT = """{% from "ntp/map.jinja" import ntp with context %}
include:
  - .dirs

ntp-conf:
  file.managed:
    - name: {{ ntp.conf }}
    - source: salt://ntp/files/ntp.conf.jinja
    - template: jinja
    - makedirs: true
    - context:
        servers: {{ ntp.servers | json }}
        service: {{ ntp.service }}
    - require:
      - file: ntp-dir
"""
DIRS = """ntp-dir:
  file.directory:
    - name: {{ out }}/{{ grains.id }}
    - makedirs: true
"""
TEMPLATE = """# {{ grains.id }} ({{ grains.os_family }}), managed by pvc
# service {{ service }}
{% for server in servers %}server {{ server }} iburst
{% endfor %}"""
TOP = "base:\n  '*':\n    - ntp\n"
PILLAR_TOP = "base:\n  'hv*':\n    - ntp\n"
PILLAR_NTP = "ntp:\n  servers: [10.0.0.1, 10.0.0.2]\n"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("formula")
    out = root / "out"
    salt, pillar = root / "srv" / "salt", root / "srv" / "pillar"
    (salt / "ntp" / "files").mkdir(parents=True)
    pillar.mkdir(parents=True)
    files = {salt / "top.sls": TOP, salt / "ntp" / "defaults.yaml": DEFAULTS.replace("{{ out }}", str(out)),
             salt / "ntp" / "map.jinja": MAP, salt / "ntp" / "init.sls": INIT,
             salt / "ntp" / "dirs.sls": DIRS.replace("{{ out }}", str(out)),
             salt / "ntp" / "files" / "ntp.conf.jinja": TEMPLATE,
             pillar / "top.sls": PILLAR_TOP, pillar / "ntp.sls": PILLAR_NTP}
    for path, text in files.items():
        path.write_text(text)
    with PvcCluster(root, master_options={"file_roots": {"base": [str(salt)]},
                                          "pillar_roots": {"base": [str(pillar)]}}) as c:
        c.start_master()
        c.add_minion("hv1", grains={"os_family": "Debian"})
        c.add_minion("web1", grains={"os_family": "RedHat"})
        c.wait_connected(["hv1", "web1"])
        c.out = out  # type: ignore[attr-defined]
        yield c


def _highstate(c: PvcCluster, mid: str, **kwargs) -> dict:
    ret = c.client().run([mid], "state.highstate", [], kwargs, timeout=120).returns[mid]
    assert ret.ok, ret.error
    return {v["__id__"]: v for v in ret.data.values()}


def test_test_mode_first_touches_nothing(cluster):
    states = _highstate(cluster, "hv1", test=True)
    assert states["ntp-conf"]["result"] is None and states["ntp-dir"]["result"] is None, states
    assert not (cluster.out / "hv1").exists()


def test_formula_renders_from_grains_and_pillar_then_is_idempotent(cluster):
    first = _highstate(cluster, "hv1")
    assert [s["result"] for s in first.values()] == [True, True], first
    assert first["ntp-dir"]["__run_num__"] < first["ntp-conf"]["__run_num__"]  # include + require order
    assert (cluster.out / "hv1" / "ntp.conf").read_text() == (
        "# hv1 (Debian), managed by pvc\n# service ntpsec\nserver 10.0.0.1 iburst\nserver 10.0.0.2 iburst\n")
    second = _highstate(cluster, "hv1")
    assert all(s["result"] is True and not s["changes"] for s in second.values()), second


def test_another_minion_gets_its_own_map_and_no_pillar(cluster):
    _highstate(cluster, "web1")
    assert (cluster.out / "web1" / "ntp.conf").read_text() == (
        "# web1 (RedHat), managed by pvc\n# service chronyd\nserver 0.pool.ntp.org iburst\n")
