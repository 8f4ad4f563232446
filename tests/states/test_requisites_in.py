"""Every requisite's ``_in`` form behaves like the forward form; retry and fun-style conditions."""

from __future__ import annotations

from pathlib import Path

import pytest

from pvc.states.chunks import Chunk
from pvc.states.conditions import RetryPolicy, with_retry
from pvc.states.context import StateContext
from pvc.states.errors import StateError
from pvc.states.result import StateResult
from tests.states.conftest import Tree


def test_in_forms(tree: Tree) -> None:
    tree.write({"ins.sls": """
changed:
  test.succeed_with_changes:
    - watch_in:
      - test: watcher
    - onchanges_in:
      - test: on-change
    - require_in:
      - test: needs-changed
failed:
  test.fail_without_changes:
    - onfail_in:
      - test: on-fail
    - require_in:
      - test: needs-failed
quiet:
  test.succeed_without_changes:
    - onchanges_in:
      - test: quiet-change
watcher:
  test.succeed_without_changes
on-change:
  test.succeed_with_changes
on-fail:
  test.succeed_with_changes
needs-changed:
  test.succeed_with_changes
needs-failed:
  test.succeed_with_changes
quiet-change:
  test.succeed_with_changes
pre:
  test.succeed_with_changes:
    - prereq_in:
      - test: target
target:
  test.succeed_with_changes
"""})
    run = tree.run("ins")
    assert run["watcher"].comment == "Watch statement fired."
    assert run["on-change"].changes and run["on-fail"].changes and run["needs-changed"].changes
    assert run["needs-failed"].result is False and "One or more requisite failed" in run["needs-failed"].comment
    assert run["quiet-change"].comment == "State was not run because none of the onchanges reqs changed"
    # "pre: prereq_in: target" is "target: prereq: pre": target runs first, because pre would change
    order = [r.chunk.id for r in run.results]
    assert order.index("target") < order.index("pre") and run["target"].changes


def test_fun_conditions_through_execution_modules(tree: Tree, tmp_path: Path) -> None:
    (tmp_path / "present").touch()
    tree.write({"cond.sls": f"""
skipped:
  test.succeed_with_changes:
    - unless:
      - fun: file.file_exists
        path: {tmp_path}/present
ran:
  test.succeed_with_changes:
    - onlyif:
      - fun: file.file_exists
        path: {tmp_path}/present
      - 'true'
"""})
    run = tree.run("cond")
    assert run["skipped"].comment == "unless condition is true" and run["ran"].changes


def test_retry_until_and_bounds() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def flaky() -> StateResult:
        calls.append(1)
        return StateResult(len(calls) >= 3, {}, f"try {len(calls)}")

    chunk = Chunk(id="x", name="x", state="test", fun="nop", retry={"attempts": 5, "interval": 2})
    result = with_retry(chunk, StateContext(), flaky, sleep=slept.append)
    assert result.result is True and len(calls) == 3 and slept == [2, 2]
    assert 'Attempt 3: Returned a result of "True"' in result.comment
    assert RetryPolicy.parse(True) == RetryPolicy(2, True, 30.0, 0.0)
    for bad in ({"attempts": 0}, {"attempts": 10**6}, {"interval": -1}, {"bogus": 1}, "often"):
        with pytest.raises(StateError):
            RetryPolicy.parse(bad)
    bad_chunk = Chunk(id="x", name="x", state="test", fun="nop", retry={"attempts": "many"})
    assert with_retry(bad_chunk, StateContext(), flaky).result is False


def test_configurable_test_state(tree: Tree) -> None:
    tree.write({"conf.sls": "quiet-fail:\n  test.configurable_test_state:\n    - changes: False\n    - result: False\n"
                            "    - comment: planned failure\n"
                            "rescue:\n  test.configurable_test_state:\n    - onfail:\n      - test: quiet-fail\n"})
    run = tree.run("conf")
    assert (run["quiet-fail"].result, run["quiet-fail"].changes, run["quiet-fail"].comment) == \
        (False, {}, "planned failure")
    assert run["rescue"].result is True and run["rescue"].changes
    planned = tree.run("conf", test=True)
    assert planned["quiet-fail"].result is True and planned["rescue"].result is True
