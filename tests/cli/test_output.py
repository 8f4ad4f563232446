"""Human output: text as text, rounded durations, colours only where wanted."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pvc.cli.main import cli
from pvc.cli.output import format_duration, human_return, nested
from pvc.results import Return
from tests.cli.fakes import FakeClient, use_fake


@pytest.mark.parametrize("seconds, text", [
    (4.099000000223896e-05, "0.04 ms"), (0.0, "0 ms"), (0.0012, "1.2 ms"), (0.0123, "12 ms"),
    (0.5, "500 ms"), (1.234, "1.2 s"), (12.5, "12 s"), (75, "1 min 15 s"),
])
def test_durations_are_rounded(seconds, text):
    assert format_duration(seconds) == text


def test_nested_prints_text_unquoted_and_structures_indented():
    value = {"b": [1, {"c": 2}], "a": "line 1\nline 2", "e": {}, "n": None}
    assert nested(value) == ["a:", "    line 1", "    line 2", "b:", "    - 1", "    -", "        c: 2",
                             "e: {}", "n: None"]


def test_sys_doc_is_plain_text():
    doc = {"test.echo": "test.echo(text: Any) -> Any\n\nReturn ``text`` unchanged, e.g. 'hi'."}
    out = click_unstyle(human_return("m1", Return(True, doc)))
    assert out == ("m1:\n    test.echo:\n        test.echo(text: Any) -> Any\n\n"
                   "        Return ``text`` unchanged, e.g. 'hi'.")


def test_job_show_style_duration():
    out = click_unstyle(human_return("m1", Return(True, True, duration=4.1e-05), duration=True))
    assert out.splitlines()[0] == "m1: (0.04 ms)"


def click_unstyle(text: str) -> str:
    import click

    return click.unstyle(text)


@pytest.mark.parametrize("env, coloured", [({}, True), ({"NO_COLOR": "1"}, False)])
def test_no_color_is_honoured(monkeypatch, env, coloured):
    use_fake(monkeypatch, FakeClient(returns=[("m1", Return(True, True))]))
    res = CliRunner().invoke(cli, ["run", "*", "test.ping"], env=env, color=True)
    assert ("\x1b[" in res.stdout) is coloured
