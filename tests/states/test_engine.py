"""pvc.states.engine: requisite semantics, test mode, failhard, conditions, idempotent file states."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from pvc.states.compile import compile_high
from pvc.states.context import StateContext
from pvc.states.engine import apply_chunks
from pvc.states.functions import MODULES, default_registry
from pvc.states.order import order_chunks
from pvc.states.registry import StateModule, StateRegistry
from pvc.states.result import StateResult, StateRun


def run(text: str, *, test: bool = False, failhard: bool = False, registry: StateRegistry | None = None,
        **ctx: Any) -> StateRun:
    chunks = order_chunks(compile_high({"s": yaml.safe_load(text)}))
    return apply_chunks(chunks, registry or default_registry(), StateContext(test=test, **ctx), failhard=failhard)


def order_of(out: StateRun) -> list[str]:
    return [r.chunk.id for r in out.results]


def test_require_failure_skips_dependents() -> None:
    out = run("""
bad: test.fail_without_changes
good: test.succeed_without_changes
needs-bad:
  test.succeed_with_changes:
    - require:
      - bad
      - good
needs-any:
  test.succeed_with_changes:
    - require_any:
      - bad
      - good
""")
    assert out["needs-bad"].result is False and out["needs-bad"].comment.startswith("One or more requisite failed")
    assert "s.bad" in out["needs-bad"].comment
    assert out["needs-any"].result is True and out["needs-any"].changes


def test_missing_requisite_fails_only_that_state() -> None:
    out = run("a:\n  test.succeed_with_changes:\n    - require:\n      - file: /etc/ghost\nb: test.succeed_without_changes\n")
    assert out["a"].result is False
    assert out["a"].comment.startswith("The following requisites were not found")
    assert "file: /etc/ghost" in out["a"].comment and out["b"].result is True


def test_watch_fires_mod_watch_only_on_changes() -> None:
    out = run("""
changed: test.succeed_with_changes
quiet: test.succeed_without_changes
watcher:
  test.succeed_without_changes:
    - watch:
      - changed
idle:
  test.succeed_without_changes:
    - watch:
      - quiet
""")
    assert out["watcher"].comment == "Watch statement fired." and out["watcher"].changes
    assert out["idle"].comment == "Success!" and not out["idle"].changes


def test_onchanges_and_onfail() -> None:
    out = run("""
changed: test.succeed_with_changes
quiet: test.succeed_without_changes
failing: test.fail_without_changes
on-change:
  test.show_notification:
    - text: ran
    - onchanges:
      - changed
no-change:
  test.show_notification:
    - text: ran
    - onchanges:
      - quiet
on-fail:
  test.show_notification:
    - text: recovering
    - onfail:
      - failing
      - quiet
no-fail:
  test.show_notification:
    - text: recovering
    - onfail:
      - quiet
all-fail:
  test.show_notification:
    - onfail_all:
      - failing
      - quiet
""")
    assert out["on-change"].comment == "ran"
    assert out["no-change"].comment == "State was not run because none of the onchanges reqs changed"
    assert out["on-fail"].comment == "recovering"
    assert out["no-fail"].comment == out["all-fail"].comment == "State was not run because onfail req did not change"
    assert out["no-fail"].result is True


def test_prereq_runs_only_when_target_would_change() -> None:
    out = run("""
graceful-down:
  test.show_notification:
    - text: down
    - prereq:
      - site-code
site-code: test.succeed_with_changes
skipped-down:
  test.show_notification:
    - text: down
    - prereq:
      - stable
stable: test.succeed_without_changes
""")
    assert order_of(out) == ["graceful-down", "site-code", "skipped-down", "stable"]
    assert out["graceful-down"].comment == "down"
    assert out["site-code"].changes and out["site-code"].result is True
    assert out["skipped-down"].comment == "No changes detected"


def test_failhard_stops_the_run() -> None:
    text = "a: test.succeed_without_changes\nb:\n  test.fail_with_changes:\n    - failhard: True\nc: test.nop\n"
    out = run(text)
    assert order_of(out) == ["a", "b"] and out.stopped_by is not None and not out.ok
    out = run("a: test.fail_without_changes\nb: test.nop\n", failhard=True)
    assert order_of(out) == ["a"]
    out = run("a:\n  test.fail_without_changes:\n    - failhard: False\nb: test.nop\n", failhard=True)
    assert order_of(out) == ["a", "b"]


def test_test_mode_results() -> None:
    out = run("a: test.succeed_with_changes\nb: test.succeed_without_changes\nc: test.fail_with_changes\n", test=True)
    assert [r.result.result for r in out.results] == [None, True, None]


def test_conditions_use_the_injected_runner(tmp_path: Path) -> None:
    ran: list[str] = []

    def runner(command: str, runas: str | None = None) -> int:
        ran.append(command)
        return 0 if command == "true" else 1

    (tmp_path / "exists").touch()
    out = run(f"""
only-false:
  test.succeed_with_changes:
    - onlyif: 'false'
only-true:
  test.succeed_with_changes:
    - onlyif: 'true'
unless-true:
  test.succeed_with_changes:
    - unless:
      - 'true'
created:
  test.succeed_with_changes:
    - creates: {tmp_path / "exists"}
""", run_cmd=runner)
    assert out["only-false"].comment == "onlyif condition is false" and not out["only-false"].changes
    assert out["only-true"].changes
    assert out["unless-true"].comment == "unless condition is true"
    assert out["created"].comment == "All files in creates exist"
    assert ran == ["false", "true", "true"]
    assert run("a:\n  test.nop:\n    - onlyif: 'true'\n")["a"].result is False   # no runner: clear failure


def test_missing_function_bad_args_and_crash_fail_one_state() -> None:
    def boom(ctx: StateContext, name: str) -> StateResult:
        raise RuntimeError("kaput")

    registry = StateRegistry([*MODULES, StateModule("x", functions=(boom,))])
    out = run("a: nope.missing\nb: x.boom\nc:\n  test.show_notification: []\n", registry=registry)
    assert out["a"].result is False and "was not found in SLS 's'" in out["a"].comment
    assert out["b"].result is False and "RuntimeError: kaput" in out["b"].comment
    assert out["c"].result is True  # name is always passed; text defaults to name
    ignored = run("a:\n  test.show_notification:\n    - bogus: 1\n")["a"]
    assert ignored.result is True and ignored.warnings


def test_file_states_apply_idempotent_and_test_mode_changes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "etc" / "app" / "app.conf"
    gone = tmp_path / "old"
    (gone / "sub").mkdir(parents=True)
    text = f"""
{tmp_path / "etc" / "app"}:
  file.directory:
    - mode: 750
    - makedirs: True
app-conf:
  file.managed:
    - name: {target}
    - contents:
      - line one
      - line two
    - mode: '0640'
    - makedirs: True   # in test mode the directory above is only planned (Salt behaves the same)
    - require:
      - file: {tmp_path / "etc" / "app"}
{gone}:
  file.absent
"""
    planned = run(text, test=True)
    assert [r.result.result for r in planned.results] == [None, None, None]
    assert not (tmp_path / "etc").exists() and gone.exists()      # test mode: nothing on disk
    first = run(text)
    assert first.ok and len(first.changed) == 3
    assert target.read_text() == "line one\nline two\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(target.parent).st_mode) == 0o750 and not gone.exists()
    second = run(text)
    assert second.ok and second.changed == []
    assert [r.result.result for r in run(text, test=True).results] == [True, True, True]
    target.write_text("drift\n")
    third = run(text)
    assert third["app-conf"].changes["diff"].count("+line") == 2 and target.read_text() == "line one\nline two\n"


def test_file_managed_failures(tmp_path: Path) -> None:
    out = run(f"""
relative:
  file.managed:
    - name: etc/x
no-parent:
  file.managed:
    - name: {tmp_path}/missing/x
bad-mode:
  file.managed:
    - name: {tmp_path}/x
    - mode: '0999'
""")
    assert "not an absolute path" in out["relative"].comment
    assert "Parent directory not present" in out["no-parent"].comment
    assert "not an octal file mode" in out["bad-mode"].comment
    assert all(r.result.result is False for r in out.results)
