"""Pillar rendered from pillar_roots: top matching, Jinja with grains, includes, recursive merge, errors."""

from __future__ import annotations

import pytest

from pvc.states.pillar import PillarError, merge, render_pillar
from pvc.states.tree import FileRoots


def _roots(tmp_path, files: dict[str, str]) -> FileRoots:
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return FileRoots([tmp_path])


def test_top_selects_and_later_sls_merge_over_earlier(tmp_path):
    roots = _roots(tmp_path, {
        "top.sls": "base:\n  '*':\n    - common\n  'os:Debian':\n    - match: grain\n    - debian\n  'other':\n    - secret\n",
        "common.sls": "ntp: {servers: [a, b], iburst: true}\nname: {{ grains.id }}\n",
        "debian/init.sls": "include: [.extra]\nntp: {servers: [c]}\n",
        "debian/extra.sls": "extra: {{ pillar.ntp.iburst }}\n",
        "secret.sls": "password: hunter2\n",
    })
    pillar = render_pillar(roots, "hv1", {"id": "hv1", "os": "Debian"})
    assert pillar == {"ntp": {"servers": ["c"], "iburst": True}, "name": "hv1", "extra": True}


def test_no_top_is_an_empty_pillar(tmp_path):
    assert render_pillar(FileRoots([tmp_path]), "hv1", {}) == {}


@pytest.mark.parametrize("files, message", [
    ({"top.sls": "base:\n  '*':\n    - gone\n"}, "'gone' is listed in the pillar top file but does not exist"),
    ({"top.sls": "base:\n  '*':\n    - bad\n", "bad.sls": "a: {{ nope( }}\n"}, "pillar for hv1: Rendering SLS 'bad"),
    ({"top.sls": "base:\n  '*':\n    - loop\n", "loop.sls": "include: [loop]\n"}, None),
])
def test_errors_name_the_sls(tmp_path, files, message):
    roots = _roots(tmp_path, files)
    if message is None:  # an include of itself is loaded once, not forever
        assert render_pillar(roots, "hv1", {}) == {}
        return
    with pytest.raises(PillarError, match=message.replace("(", r"\(")):
        render_pillar(roots, "hv1", {})


def test_merge_recurses_into_mappings_and_replaces_the_rest():
    assert merge({"a": {"x": 1, "l": [1]}, "s": 1}, {"a": {"y": 2, "l": [2]}, "s": {"k": 1}}) == \
        {"a": {"x": 1, "l": [2], "y": 2}, "s": {"k": 1}}


def test_yaml_dates_and_sets_become_plain_data(tmp_path):
    roots = _roots(tmp_path, {"top.sls": "base:\n  '*':\n    - d\n",
                              "d.sls": "since: 2026-01-02\nids: !!set {b: null, a: null}\nk: {1: x}\n"})
    assert render_pillar(roots, "hv1", {}) == {"since": "2026-01-02", "ids": ["a", "b"], "k": {"1": "x"}}
