"""SLS YAML with Salt's rules: leading-zero integers are decimal (unquoted modes), dates stay
text, a repeated ID is an error naming it and its line, merge keys work, Python tags never."""

from __future__ import annotations

import pytest
import yaml

from pvc.states.errors import RenderError
from pvc.states.render import RenderContext, render_sls
from pvc.states.yamlsafe import load_sls_yaml


def test_salt_scalars() -> None:
    data = load_sls_yaml("mode: 0750\nneg: -012\nhex: 0x10\nzero: 0\nbig: 1_000\ndate: 2024-01-01\non: yes\n")
    assert data == {"mode": 750, "neg": -12, "hex": 16, "zero": 0, "big": 1000, "date": "2024-01-01", True: True}


def test_merge_keys_override_without_being_duplicates() -> None:
    assert load_sls_yaml("base: &b {user: root, mode: 644}\nf:\n  <<: *b\n  mode: 600\n")["f"] == \
        {"user": "root", "mode": 600}


def test_repeated_id_is_an_error_with_its_line() -> None:
    with pytest.raises(RenderError) as err:
        render_sls("vim:\n  pkg.installed: []\n\nvim:\n  pkg.removed: []\n", sls="edit", ctx=RenderContext())
    assert err.value.line == 4 and "found conflicting ID 'vim'" in str(err.value)


@pytest.mark.parametrize("text", ["!!python/object/apply:os.system [id]", "x: !!python/name:os.system\n"])
def test_python_tags_are_refused(text: str) -> None:
    with pytest.raises(yaml.YAMLError):
        load_sls_yaml(text)
