"""Sandboxed rendering of action fields: event values are hostile, templates are the operator's."""

from __future__ import annotations

import pytest

from pvc.errors import ConfigError
from pvc.reactor.errors import RenderError
from pvc.reactor.render import MAX_FIELD, Renderer

TAG = "pvc/beacon/hv1/disk"


def render(value: object, data: dict[str, object] | None = None) -> object:
    return Renderer().render(value, TAG, data or {})


def test_tag_parts_and_data_reach_leaves_only() -> None:
    value = {"tgt": "{{ parts[2] }}", "args": ["{{ data.pct }}%", 5, None, True], "{{ key }}": "{{ tag }}"}
    assert render(value, {"pct": 93}) == {"tgt": "hv1", "args": ["93%", 5, None, True], "{{ key }}": TAG}


def test_plain_strings_are_not_parsed() -> None:
    assert render("50% {not a template}") == "50% {not a template}"


@pytest.mark.parametrize("template", [
    "{{ data.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ data.items.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ data.x.append(1) }}",
])
def test_sandbox_refuses_internals_and_mutation(template: str) -> None:
    with pytest.raises(RenderError):
        render(template, {"x": []})


@pytest.mark.parametrize("template", ["{% include '/etc/passwd' %}", "{% import '/etc/hosts' as h %}",
                                      "{% extends '/etc/passwd' %}"])
def test_no_filesystem(template: str) -> None:
    with pytest.raises(RenderError):
        render(template)


def test_undefined_values_raise_instead_of_rendering_empty() -> None:
    with pytest.raises(RenderError, match="has no attribute 'node'|'node' is undefined"):
        render("{{ data.node }}")


@pytest.mark.parametrize("template", ["{{ 'x' * data.n }}", "{{ data.s * 100000 }}", "{{ 9 ** data.n }}",
                                      "{% for i in range(100000) %}{{ data.s }}{% endfor %}"])
def test_hostile_numbers_cannot_blow_up_the_output(template: str) -> None:
    with pytest.raises(RenderError):
        render(template, {"n": 10**9, "s": "abc"})


def test_a_field_just_under_the_bound_renders() -> None:
    assert len(str(render("{{ 'x' * data.n }}", {"n": MAX_FIELD}))) == MAX_FIELD


def test_syntax_errors_are_config_errors_with_a_line() -> None:
    with pytest.raises(ConfigError, match=r"here: template error line 2: "):
        Renderer().check("ok\n{{ data. }}", "here")
