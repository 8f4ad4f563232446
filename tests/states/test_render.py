"""pvc.states.render: Salt's Jinja context, filters and sandbox; YAML 1.1 safe loading."""

from __future__ import annotations

import pytest

from pvc.states.errors import RenderError
from pvc.states.render import RenderContext, SaltFunctions, render_jinja, render_sls, sls_paths


def _ctx(**kw: object) -> RenderContext:
    salt = SaltFunctions({
        "pillar.get": lambda key, default=None: {"ntp": "pool.ntp.org"}.get(key, default),
        "test.echo": lambda text: text,
        "grains.get": lambda key, default="": {"os": "Debian"}.get(key, default),
    })
    base = {"grains": {"os": "Debian", "ip4": ["10.0.0.1"]}, "pillar": {"users": {"ann": {"uid": 1001}}},
            "opts": {"id": "node1"}, "salt": salt}
    base.update(kw)
    return RenderContext(**base)  # type: ignore[arg-type]


def j(text: str, sls: str = "top.web", **kw: object) -> str:
    return render_jinja(text, sls=sls, ctx=_ctx(**kw))


def test_context_variables() -> None:
    out = j("{{ grains.os }} {{ pillar['users']['ann']['uid'] }} {{ opts.id }} {{ saltenv }}")
    assert out == "Debian 1001 node1 base"
    assert j("{{ sls }} {{ slspath }} {{ tpldir }} {{ tplfile }} {{ slsdotpath }}", sls="a.b.c") == \
        "a.b.c a/b a/b a/b/c.sls a.b"
    assert sls_paths("a.b", "a/b/init.sls")["slspath"] == "a/b"


def test_salt_both_call_forms() -> None:
    assert j("{{ salt['pillar.get']('ntp') }}|{{ salt.pillar.get('ntp') }}|{{ salt.test.echo('x') }}") == \
        "pool.ntp.org|pool.ntp.org|x"
    assert j("{{ salt['grains.get']('os') }}") == "Debian"


def test_unknown_salt_function_is_render_error() -> None:
    with pytest.raises(RenderError, match="not available"):
        j("{{ salt['nope.fun']() }}")


def test_extensions_do_and_loopcontrols() -> None:
    text = "{% set xs = [] %}{% for i in range(6) %}{% if i == 4 %}{% break %}{% endif %}" \
           "{% if i == 1 %}{% continue %}{% endif %}{% do xs.append(i) %}{% endfor %}{{ xs }}"
    assert j(text) == "[0, 2, 3]"


@pytest.mark.parametrize(("expr", "expected"), [
    ("{{ {'a': [1, 2]} | yaml }}", "{a: [1, 2]}"),
    ("{{ {'b': 1, 'a': 2} | json }}", '{"a": 2, "b": 1}'),
    ("{{ pillar | traverse('users:ann:uid') }}", "1001"),
    ("{{ grains | traverse('ip4:0') }}", "10.0.0.1"),
    ("{{ pillar | traverse('users:bob:uid', 'none') }}", "none"),
    ("{{ 'abc123' | regex_replace('[0-9]+', 'X') }}", "abcX"),
    ("{{ 'ABC' | regex_replace('b', 'x', ignorecase=True) }}", "AxC"),
    ("{{ 'web01.lan' | regex_search('^(web)([0-9]+)') }}", "('web', '01')"),
    ("{{ 'db' | regex_search('^web') }}", "None"),
    ("{{ 'Yes' | to_bool }} {{ 'off' | to_bool }} {{ 0 | to_bool }} {{ [1] | to_bool }}", "True False False True"),
    ("{{ 'a: b' | yaml_encode }}", "'a: b'"),
    ("{{ 'plain' | yaml_encode }} {{ 5 | yaml_encode }} {{ true | yaml_encode }}", "plain 5 true"),
    ("{{ 'say \"hi\"' | yaml_dquote }}", '"say \\"hi\\""'),
    ("{{ [3, 1, 3, 2, 1] | unique }}", "[3, 1, 2]"),
    ("{{ ('k: [1, 2]' | load_yaml).k }}", "[1, 2]"),
])
def test_filters(expr: str, expected: str) -> None:
    assert j(expr) == expected


def test_filtered_values_round_trip_through_yaml() -> None:
    text = "motd:\n  file.managed:\n    - contents: {{ 'x: \"y\"' | yaml_dquote }}\n    - list: {{ [1, 'a'] | json }}\n"
    data = render_sls(text, sls="motd", ctx=_ctx())
    assert data == {"motd": {"file.managed": [{"contents": 'x: "y"'}, {"list": [1, "a"]}]}}


def test_yaml_11_booleans_like_salt() -> None:
    data = render_sls("a: on\nb: off\nc: yes\nd: no\ne: '0644'\nf: 644\n", sls="s", ctx=_ctx())
    assert data == {"a": True, "b": False, "c": True, "d": False, "e": "0644", "f": 644}


def test_yaml_is_safe() -> None:
    with pytest.raises(RenderError, match="YAML error"):
        render_sls("a: !!python/object/apply:os.system ['true']\n", sls="evil", ctx=_ctx())


@pytest.mark.parametrize("expr", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ salt.__class__ }}",
    "{{ salt._functions }}",
    "{{ grains.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ self._TemplateReference__context }}",
    "{{ lipsum.__globals__ }}",
    "{{ salt['test.echo'].__globals__ }}",
])
def test_sandbox_blocks_internals(expr: str) -> None:
    with pytest.raises(RenderError) as err:
        j(expr)
    assert "unsafe" in str(err.value) or "undefined" in str(err.value)


def test_sandbox_blocks_str_format_escape() -> None:
    with pytest.raises(RenderError, match="unsafe"):
        j("{{ '{0.__class__}'.format('') }}")


def test_errors_name_sls_and_line() -> None:
    with pytest.raises(RenderError) as err:
        render_sls("a: 1\nb: {{ nope.attr }}\n", sls="web.nginx", ctx=_ctx())
    assert err.value.sls == "web.nginx" and err.value.line == 2
    assert "web.nginx, line 2" in str(err.value)
    with pytest.raises(RenderError) as err:
        render_sls("a: 1\n{% if %}\n", sls="web.nginx", ctx=_ctx())
    assert err.value.line == 2
    with pytest.raises(RenderError) as err:
        render_sls("a: 1\nb: [\n", sls="web.nginx", ctx=_ctx())
    assert err.value.line is not None and err.value.line >= 2
    with pytest.raises(RenderError, match="mapping"):
        render_sls("- a\n", sls="web.nginx", ctx=_ctx())


def test_empty_sls_is_empty_mapping() -> None:
    assert render_sls("{# nothing #}\n", sls="e", ctx=_ctx()) == {}


def test_import_from_another_template() -> None:
    sources = {"web/map.jinja": "{% set web = {'port': 80 if grains.os == 'Debian' else 8080} %}"}
    ctx = _ctx(sources=sources.get)
    out = render_jinja("{% from 'web/map.jinja' import web with context %}{{ web.port }}", sls="web", ctx=ctx)
    assert out == "80"
