"""The Salt SLS dialect end to end on a real tree: include forms, Salt's Jinja tags, relative
imports, template context, salt[...] through the real execution modules, old list syntax."""

from __future__ import annotations

from pathlib import Path

import pytest

from pvc.grains import SALT_DIALECT
from pvc.states.apply import show_sls
from pvc.states.errors import CompileError, RenderError
from tests.states.conftest import Tree


def test_import_and_load_tags_with_relative_paths(tree: Tree, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    tree.write({
        "ntp/defaults.yaml": "ntp:\n  servers: [{{ '0.pool' }}, 1.pool]\n  pkg: ntp\n",
        "ntp/extra.json": '{"port": 123}',
        "ntp/map.jinja": (
            "{% import_yaml './defaults.yaml' as defaults %}\n"
            "{% import_json 'ntp/extra.json' as extra %}\n"
            "{% set ntp = salt['grains.filter_by']({'Debian': {'conf': '/etc/ntp.conf'}}, merge=defaults.ntp) %}\n"
            "{% do ntp.update(extra) %}\n"),
        "ntp/init.sls": (
            "{% from './map.jinja' import ntp with context %}\n"
            "{% load_yaml as opts %}\nlevel: {{ grains.osrelease }}\n{% endload %}\n"
            "{% load_json as flags %}{\"iburst\": true}{% endload %}\n"
            f"{out}:\n  file.managed:\n"
            "    - contents: |\n"
            "        {{ ntp.servers | join(',') }} {{ ntp.port }} {{ ntp.conf }} {{ opts.level }} {{ flags.iburst }}\n"
            "        {{ tpldir }} {{ tplfile }} {{ sls }} {{ slspath }} {{ saltenv }}\n"),
    })
    run = tree.run("ntp")
    assert run.ok, run.results
    assert out.read_text() == "0.pool,1.pool 123 /etc/ntp.conf 12 True\nntp ntp/init.sls ntp ntp base\n"


def test_salt_call_forms_pillar_and_config(tree: Tree, tmp_path: Path) -> None:
    out = tmp_path / "motd"
    tree.write({"motd.sls": (
        f"{out}:\n  file.managed:\n    - contents: >-\n"
        "        {{ salt['pillar.get']('motd:text') }} {{ salt.pillar.get('motd:who', 'x') }}\n"
        "        {{ salt.grains.get('os') }} {{ salt['config.get']('osrelease') }}\n"
        "        {{ salt['cmd.run']('echo hi') }} {{ salt.test.echo('e') }}\n"
        "        {{ pillar.motd.text }} {{ grains['id'] }}\n")})
    run = tree.run("motd", pillar={"motd": {"text": "Welcome"}})
    assert run.ok, run.results
    assert out.read_text() == "Welcome x Debian 12 hi e Welcome node1\n"


def test_unknown_salt_function_fails_the_render_naming_it(tree: Tree) -> None:
    tree.write({"bad.sls": "{{ salt['nosuch.fun']() }}\n"})
    with pytest.raises(RenderError, match="nosuch.fun"):
        tree.run("bad")


def test_include_forms_and_sls_requisite(tree: Tree) -> None:
    tree.write({
        "web/init.sls": "include:\n  - .nginx\n  - web.php\n{% for x in ['a', 'b'] %}  - common.{{ x }}\n{% endfor %}\n"
                        "site:\n  test.succeed_without_changes:\n    - require:\n      - sls: web.nginx\n",
        "web/nginx.sls": "nginx:\n  test.succeed_with_changes\n",
        "web/php.sls": "include:\n  - ..common.a\nphp:\n  test.succeed_without_changes\n",
        "common/a.sls": "a: test.nop\n",
        "common/b.sls": "b:\n  test:\n    - nop\n",
    })
    chunks = show_sls(["web"], tree.inputs())
    assert [c.id for c in chunks] == ["nginx", "a", "php", "b", "site"]
    run = tree.run("web")
    assert run.ok and run["site"].result is True


def test_old_list_syntax_function_after_args_and_names(tree: Tree, tmp_path: Path) -> None:
    tree.write({"old.sls": (
        f"{tmp_path}/d:\n  file:\n    - mode: '0750'\n    - directory\n"
        "files:\n  file:\n    - managed\n    - contents: x\n    - require:\n"
        f"      - file: {tmp_path}/d\n    - names:\n"
        f"      - {tmp_path}/d/one\n      - {tmp_path}/d/two:\n        - contents: y\n")})
    run = tree.run("old")
    assert run.ok, [r.result.comment for r in run.results]
    assert (tmp_path / "d/one").read_text() == "x\n" and (tmp_path / "d/two").read_text() == "y\n"
    assert oct((tmp_path / "d").stat().st_mode)[-3:] == "750"


def test_extend_across_sls(tree: Tree, tmp_path: Path) -> None:
    tree.write({
        "base.sls": f"conf:\n  file.managed:\n    - name: {tmp_path}/c\n    - contents: base\n",
        "override.sls": "include:\n  - base\nextend:\n  conf:\n    file:\n      - contents: override\n",
    })
    assert tree.run("override").ok
    assert (tmp_path / "c").read_text() == "override\n"


def test_missing_sls_and_traversal_names(tree: Tree) -> None:
    tree.write({"a.sls": "include:\n  - ghost\n"})
    with pytest.raises(CompileError, match="'ghost' in saltenv 'base' is not available"):
        tree.run("a")
    tree.write({"b.sls": "{% import_yaml '../../etc/passwd' as x %}\n"})
    with pytest.raises(RenderError, match="leaves the state tree"):
        tree.run("b")


def test_import_without_context_still_sees_grains_pillar_and_salt(tree: Tree, tmp_path: Path) -> None:
    tree.write({"m/map.jinja": "{% set m = {'os': grains.os, 'p': pillar.get('x'), 'e': salt['test.echo']('y')} %}",
                "m/init.sls": f"{{% from 'm/map.jinja' import m %}}\n{tmp_path}/m:\n  file.managed:\n"
                              "    - contents: {{ m.os }} {{ m.p }} {{ m.e }}\n"})
    assert tree.run("m", pillar={"x": 1}).ok
    assert (tmp_path / "m").read_text() == "Debian 1 y\n"


def test_constructs_of_public_formulas(tree: Tree, tmp_path: Path) -> None:
    """What the saltstack-formulas map.jinja files do: tplroot from tpldir, computed import
    paths, nested filter_by with integer keys (osarch 386) and defaults=, config.get with
    default=, a saltversioninfo gate, cp.list_master_dirs over the run's own tree."""
    tree.write({
        "tz/defaults.yaml": "tz:\n  name: Etc/UTC\n  pkg: tzdata\n",
        "tz/osarchmap.yaml": "386:\n  arch: x86\namd64:\n  arch: x64\n",
        "tz/files/default/zone.conf": "x\n",
        "tz/map.jinja": (
            "{%- set tplroot = tpldir.split('/')[0] %}\n"
            "{%- import_yaml tplroot ~ '/defaults.yaml' as default_settings %}\n"
            "{%- import_yaml tplroot ~ '/osarchmap.yaml' as osarchmap %}\n"
            "{%- set _config = salt['config.get'](tplroot, default={}) %}\n"
            "{%- set tz = salt['grains.filter_by'](default_settings, default=tplroot,\n"
            "      merge=salt['grains.filter_by'](osarchmap, grain='osarch',\n"
            "        merge=salt['grains.filter_by'](_config, default='lookup'))) %}\n"),
        "tz/init.sls": (
            "{%- set tplroot = tpldir.split('/')[0] %}\n"
            "{%- from tplroot ~ '/map.jinja' import tz with context %}\n"
            f"{tmp_path}/tz:\n  file.managed:\n    - contents: >-\n"
            "        {{ tz.name }} {{ tz.arch }} {{ tz.pkg }}\n"
            "        {{ grains['saltversioninfo'] >= [2018, 3, 1] }}\n"
            "        {{ salt['cp.list_master_dirs'](prefix=tplroot) | join(',') }}\n"
            "        {{ salt['cp.list_master']() | length }}\n"),
    })
    run = Tree(tree.root, grains={"osarch": "386", **SALT_DIALECT}).run("tz", pillar={"tz": {"lookup": {
        "pkg": "tzdata-legacy"}}})
    assert run.ok, [r.result.comment for r in run.results]
    assert (tmp_path / "tz").read_text() == "Etc/UTC x86 tzdata-legacy True tz,tz/files,tz/files/default 5\n"
