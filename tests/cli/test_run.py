"""``pvc run`` parsing and printing, against a fake client (no master needed)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pvc.cli.main import cli
from pvc.results import Return
from tests.cli.fakes import FakeClient, use_fake

JID = "20240101000000000001"


def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.mark.parametrize("argv, bad, suggestion", [
    (["run", "*", "test.ping", "--otu", "json"], "--otu", "--out"),
    (["run", "--foo", "*", "test.ping"], "--foo", "--"),
    (["run", "*", "test.ping", "--timout", "3"], "--timout", "--timeout"),
    (["call", "test.ping", "--otu", "json"], "--otu", "--out"),
])
def test_unknown_option_is_a_cli_error_with_a_suggestion(monkeypatch, argv, bad, suggestion):
    fake = use_fake(monkeypatch, FakeClient())
    res = invoke(*argv)
    assert res.exit_code == 2
    assert f"No such option '{bad}'" in res.output and f"'{suggestion}" in res.output
    assert "after '--'" in res.output
    assert fake.calls == []


def test_double_dash_and_key_value_pass_arguments(monkeypatch):
    fake = use_fake(monkeypatch, FakeClient(returns=[("m1", Return(True, 1))]))
    res = invoke("run", "*", "test.arg", "x=-2", "--out", "json", "--", "-1", "--out")
    assert res.exit_code == 0, res.output
    assert fake.calls[0][2:4] == ([-1, "--out"], {"x": -2})


def test_cmd_run_goes_through_the_shell_from_the_cli(monkeypatch):
    fake = use_fake(monkeypatch, FakeClient(returns=[("m1", Return(True, "hi"))]))
    invoke("run", "*", "cmd.run", "echo hi; exit 3")
    invoke("run", "*", "cmd.run", "echo hi", "python_shell=False")
    invoke("run", "*", "cmd.run_all", '["ls", "-l"]')
    assert [c[2:4] for c in fake.calls] == [
        (["echo hi; exit 3"], {"python_shell": True}),
        (["echo hi"], {"python_shell": False}),
        ([["ls", "-l"]], {}),
    ]


def test_returns_print_sorted_by_minion_id_as_plain_text(monkeypatch):
    doc = "test.echo(text: Any) -> Any\n\nReturn ``text`` unchanged."
    use_fake(monkeypatch, FakeClient(returns=[("m2", Return(True, {"test.echo": doc})), ("m10", Return(True, True)),
                                              ("a1", Return(False, error="boom"))]))
    res = invoke("run", "*", "sys.doc", "test.echo")
    assert res.exit_code == 1
    assert res.stdout.index("a1:") < res.stdout.index("m10:") < res.stdout.index("m2:")
    assert "        test.echo(text: Any) -> Any\n\n        Return ``text`` unchanged." in res.stdout
    assert "'" not in res.stdout and "ERROR: boom" in res.stdout


def test_list_target_names_unknown_minions(monkeypatch):
    use_fake(monkeypatch, FakeClient(returns=[("m1", Return(True, True)), ("m2", Return(True, True))]))
    res = invoke("run", "-L", "m1,m2,m7", "test.ping")
    assert res.exit_code == 1
    assert "m7: no such minion" in res.stderr and "m1" not in res.stderr


def test_nothing_matched_exits_2(monkeypatch):
    use_fake(monkeypatch, FakeClient(minions=[]))
    res = invoke("run", "-L", "m7", "test.ping")
    assert res.exit_code == 2
    assert "m7: no such minion" in res.stderr and "No minions matched the target" in res.stderr


def test_still_running_prints_the_jid_and_how_to_follow(monkeypatch):
    use_fake(monkeypatch, FakeClient(returns=[("m1", Return(True, True))],
                                     missing={"m2": "still running", "m3": "timed out", "m4": "not connected"}))
    res = invoke("run", "*", "test.sleep", "7")
    assert res.exit_code == 1
    assert "m2: still running" in res.stderr
    assert f"Job {JID} is still running on 1 minion(s); follow with: pvc job show {JID}" in res.stderr
    assert "m3: no return (timed out)" in res.stderr and "m4: no return (not connected)" in res.stderr
    assert "m2: no return" not in res.stderr


def test_ctrl_c_prints_the_jid_not_aborted(monkeypatch):
    use_fake(monkeypatch, FakeClient(returns=[("m1", Return(True, True)), ("m2", Return(True, True))],
                                     interrupt_after=1))
    res = invoke("run", "*", "test.sleep", "60")
    assert res.exit_code == 130
    assert "Aborted" not in res.output
    assert f"job {JID} keeps running on 1 minion(s) (m2); follow with: pvc job show {JID}" in res.stderr
    assert "m1:" in res.stdout  # what came back before the interrupt is still shown


def test_progress_on_request(monkeypatch):
    use_fake(monkeypatch, FakeClient(returns=[("m1", Return(True, True)), ("m2", Return(False, error="x"))]))
    res = invoke("run", "*", "test.ping", "--progress")
    assert "[1/2 done]" in res.stderr and "[2/2 done, 1 failed]" in res.stderr
    quiet = invoke("run", "*", "test.ping")
    assert "done" not in quiet.stderr


def test_json_output_is_salt_shaped(monkeypatch):
    use_fake(monkeypatch, FakeClient(returns=[("m2", Return(True, "b")), ("m1", Return(True, "a"))]))
    res = invoke("run", "*", "test.echo", "x", "--out", "json")
    assert res.exit_code == 0 and json.loads(res.stdout) == {"m1": "a", "m2": "b"}


def test_async_prints_the_jid(monkeypatch):
    use_fake(monkeypatch, FakeClient())
    res = invoke("run", "--async", "*", "test.ping")
    assert res.exit_code == 0 and res.stdout.strip() == f"Executed command with job ID: {JID}"
