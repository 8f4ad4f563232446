"""pvc.states.compile and pvc.states.order on Salt's own requisite examples (from its docs)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from pvc.states.compile import SlsSource, compile_high, compile_sls, resolve_include
from pvc.states.errors import CompileError, RequisiteCycle
from pvc.states.order import order_chunks


def sls(text: str, name: str = "s") -> list[Any]:
    return compile_high({name: yaml.safe_load(text)})


def ids(chunks: list[Any]) -> list[str]:
    return [f"{c.id}:{c.name}" if c.id != c.name else c.id for c in chunks]


def test_require_example_and_name_default() -> None:
    chunks = sls("""
vim:
  pkg.installed: []
/etc/vimrc:
  file.managed:
    - source: salt://edit/vimrc
    - require:
      - pkg: vim
""")
    vimrc = chunks[1]
    assert (vimrc.state, vimrc.fun, vimrc.name, dict(vimrc.args)) == \
        ("file", "managed", "/etc/vimrc", {"source": "salt://edit/vimrc", "name": "/etc/vimrc"})
    assert vimrc.requisites[0].tags == (chunks[0].tag,) and not vimrc.missing


def test_require_in_equals_require() -> None:
    chunks = sls("""
vim:
  pkg.installed:
    - require_in:
      - file: /etc/vimrc
/etc/vimrc:
  file.managed: []
""")
    vimrc = chunks[1]
    assert [(r.kind, r.tags) for r in vimrc.requisites] == [("require", (chunks[0].tag,))]


def test_old_list_syntax_and_shorthand() -> None:
    chunks = sls("""
/etc/motd:
  file:
    - contents: hi
    - managed
ntp: pkg.installed
""")
    assert [(c.fullname, dict(c.args)) for c in chunks] == [
        ("file.managed", {"contents": "hi", "name": "/etc/motd"}), ("pkg.installed", {"name": "ntp"})]


def test_names_expand_with_per_name_args_in_order() -> None:
    chunks = sls("""
pkgs:
  pkg.installed:
    - names:
      - vim
      - git:
        - version: 2.1
      - curl
""")
    assert [c.name for c in chunks] == ["vim", "git", "curl"]
    assert chunks[1].args["version"] == 2.1 and "names" not in chunks[0].args


def test_multiple_states_per_id_and_name_arg() -> None:
    chunks = sls("""
nginx:
  pkg.installed:
    - name: nginx-light
  service.running:
    - enable: True
    - require:
      - pkg: nginx
""")
    assert [c.fullname for c in chunks] == ["pkg.installed", "service.running"]
    assert chunks[0].name == "nginx-light" and chunks[1].requisites[0].tags == (chunks[0].tag,)


def test_include_absolute_relative_and_sls_requisite() -> None:
    tree = {
        "web": SlsSource({"include": [".nginx", "common"], "site": {"file.managed": [{"require": [{"sls": "web.nginx"}]}]}},
                         init=True),
        "web.nginx": {"include": ["..common"], "nginx": {"pkg.installed": []}, "nginx-conf": {"file.managed": []}},
        "common": {"base-pkgs": {"pkg.installed": []}},
    }
    chunks = compile_sls(["web"], tree.__getitem__)
    assert ids(chunks) == ["base-pkgs", "nginx", "nginx-conf", "site"]   # included SLS first, each once
    site = chunks[-1]
    assert set(site.requisites[0].tags) == {chunks[1].tag, chunks[2].tag}
    assert resolve_include("a.b.c", ".d") == "a.b.d" and resolve_include("a.b.c", "..d") == "a.d"
    assert resolve_include("a", ".d", init=True) == "a.d"


def test_missing_include_is_compile_error() -> None:
    with pytest.raises(CompileError, match="Specified SLS 'nope' .* not available"):
        compile_sls(["a"], {"a": {"include": ["nope"]}}.__getitem__)


def test_extend_replaces_args_and_appends_requisites() -> None:
    tree = {
        "apache": {"apache": {"pkg.installed": []}, "/etc/httpd.conf": {"file.managed": [{"source": "a"}]},
                   "httpd": {"service.running": [{"watch": [{"file": "/etc/httpd.conf"}]}]}},
        "ldap": {"include": ["apache"], "/etc/ldap.conf": {"file.managed": []},
                 "extend": {"/etc/httpd.conf": {"file": [{"source": "b"}]},
                            "httpd": {"service": [{"watch": [{"file": "/etc/ldap.conf"}]}]}}},
    }
    chunks = compile_sls(["ldap"], tree.__getitem__)
    by_id = {c.id: c for c in chunks}
    assert by_id["/etc/httpd.conf"].args["source"] == "b"
    assert [r.target for r in by_id["httpd"].requisites] == ["/etc/httpd.conf", "/etc/ldap.conf"]
    with pytest.raises(CompileError, match="Cannot extend ID 'ghost'"):
        compile_high({"x": {"extend": {"ghost": {"file": [{"mode": 1}]}}}})


def test_shape_errors_are_collected() -> None:
    with pytest.raises(CompileError) as err:
        sls("a:\n  file:\n    - managed\n    - absent\nb:\n  file: []\nc: 3\n")
    text = str(err.value)
    assert "Too many functions" in text and "No function declared" in text and "not a dictionary" in text
    assert len(err.value.errors) == 3


def test_conflicting_ids_across_sls() -> None:
    with pytest.raises(CompileError, match="conflicting ID is 'x'"):
        compile_high({"a": {"x": "pkg.installed"}, "b": {"x": "pkg.removed"}})


def test_missing_requisite_is_recorded_not_raised() -> None:
    chunks = sls("a:\n  test.nop:\n    - require:\n      - file: ghost\n      - b\nb: test.nop\n")
    assert [r.describe() for r in chunks[0].missing] == ["file: ghost"]


# ordering

def test_definition_order_unless_requisites() -> None:
    chunks = sls("""
first: test.nop
second:
  test.nop:
    - require:
      - fourth
third: test.nop
fourth: test.nop
""")
    assert ids(order_chunks(chunks)) == ["first", "fourth", "second", "third"]


def test_order_first_last_and_numbers() -> None:
    chunks = sls("""
a: test.nop
b:
  test.nop:
    - order: last
c:
  test.nop:
    - order: 1
d:
  test.nop:
    - order: first
e:
  test.nop:
    - order: -1
""")
    assert ids(order_chunks(chunks)) == ["d", "c", "a", "e", "b"]


def test_prereq_runs_before_its_target() -> None:
    chunks = sls("""
graceful-down:
  test.nop:
    - prereq:
      - site-code
site-code:
  test.nop:
    - prereq_in:
      - other
other: test.nop
""")
    assert ids(order_chunks(chunks)) == ["graceful-down", "other", "site-code"]


def test_cycle_is_named() -> None:
    chunks = sls("a:\n  test.nop:\n    - require: [b]\n    - require_in: [c]\nb:\n  test.nop:\n    - watch: [c]\n"
                 "c: test.nop\n")
    with pytest.raises(RequisiteCycle) as err:
        order_chunks(chunks)
    assert "Recursive requisite found" in str(err.value)
    assert err.value.cycle[0] == err.value.cycle[-1] and len(err.value.cycle) == 4
