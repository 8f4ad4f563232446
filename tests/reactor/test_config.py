"""The ``reactor:`` section: both rule forms, and one clear line for each kind of mistake."""

from __future__ import annotations

from typing import Any

import pytest

from pvc.errors import ConfigError
from pvc.reactor.config import JobAction, NotifyAction, RunnerAction, StateAction, check_reactor, parse_reactor
from pvc.reactor.render import Renderer


def parse(raw: list[Any]) -> Any:
    return parse_reactor(raw, Renderer())


def test_salt_short_form_and_long_form() -> None:
    rules = parse([
        {"pvc/node/*/dead": [{"notify": {"message": "node {{ parts[2] }} is dead", "level": "error"}}]},
        {"name": "restart", "tag": "pvc/vm/*/failed", "max_per_minute": 6, "max_depth": 1,
         "actions": [{"runner": {"name": "vm.start", "args": ["{{ parts[2] }}"]}},
                     {"job": {"tgt": "hv1", "fun": "test.arg", "args": [1, "x"], "kwargs": {"k": "{{ tag }}"}}},
                     {"state": {"tgt": "hv*", "sls": "base.ntp", "test": True}}]},
    ])
    assert [r.name for r in rules] == ["rule-1", "restart"]
    assert rules[0].actions == (NotifyAction("node {{ parts[2] }} is dead", "error"),)
    assert rules[0].prefix == "pvc/node/" and rules[0].matches("pvc/node/hv2/dead")
    assert not rules[0].matches("pvc/node/hv2/fenced")
    runner, job, state = rules[1].actions
    assert runner == RunnerAction("vm.start", ("{{ parts[2] }}",))
    assert isinstance(job, JobAction) and job.args == (1, "x") and dict(job.kwargs) == {"k": "{{ tag }}"}
    assert state == StateAction("hv*", "base.ntp", test=True)
    assert (rules[1].max_per_minute, rules[1].max_depth) == (6, 1)


@pytest.mark.parametrize(("raw", "message"), [
    (["pvc/x"], "master: reactor[0]: expected {TAG_GLOB: [actions]}"),
    ([{"a": [], "b": []}], "master: reactor[0]: option 'a' is unknown"),
    ([{"pvc/x": []}], "actions must list at least one action"),
    ([{"pvc/x": [{"jobb": {}}]}], "reactor[0].actions[0]: expected one of {job: {...}}"),
    ([{"pvc/x": [{"job": {"tgt": "*"}}]}], "reactor[0].actions[0].job: option 'fun' is required"),
    ([{"pvc/x": [{"job": {"tgt": "*", "fun": "test.ping", "tgt_typ": "list"}}]}],
     "option 'tgt_typ' is unknown (did you mean 'tgt_type'?)"),
    ([{"pvc/x": [{"job": {"tgt": "*", "fun": "{{ data.fun }}"}}]}], "fun is not a template"),
    ([{"pvc/x": [{"job": {"tgt": "*", "fun": "ping"}}]}], "fun must be module.function"),
    ([{"pvc/x": [{"job": {"tgt": "*", "fun": "test.ping", "tgt_type": "regex"}}]}], "tgt_type must be one of glob"),
    ([{"pvc/x": [{"job": {"tgt": "{{ data.x ", "fun": "test.ping"}}]}], ".job.tgt: template error line 1"),
    ([{"pvc/x": [{"job": {"tgt": "*", "fun": "test.arg", "args": ["{% for %}"]}}]}], ".job.args[0]: template error"),
    ([{"pvc/x": [{"state": {"tgt": "*", "sls": "../etc/passwd"}}]}], "sls must be a state name"),
    ([{"pvc/x": [{"runner": {"name": "vm.start", "args": "vm1"}}]}], "option 'args' must be a list"),
    ([{"pvc/x": [{"notify": {"message": "hi", "level": "loud"}}]}], "level must be one of debug"),
    ([{"tag": "pvc/x", "name": "a/b", "actions": [{"notify": {"message": "m"}}]}], "name 'a/b' must be letters"),
    ([{"tag": "pvc/x", "max_per_minute": 0, "actions": [{"notify": {"message": "m"}}]}], "max_per_minute must be"),
    ([{"tag": "pvc/x", "max_depth": 99, "actions": [{"notify": {"message": "m"}}]}], "max_depth must be"),
    ([{"tag": "pvc/x", "name": "n", "actions": [{"notify": {"message": "m"}}]},
      {"tag": "pvc/y", "name": "n", "actions": [{"notify": {"message": "m"}}]}], "rule name 'n' is used twice"),
])
def test_bad_config_is_one_clear_line(raw: list[Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_reactor(raw)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_master_config_carries_the_section(tmp_path: Any) -> None:
    from pvc.config import load_master

    (tmp_path / "master").write_text("reactor:\n  - pvc/node/*/dead:\n      - notify: {message: dead}\n")
    cfg = load_master(tmp_path)
    assert parse(list(cfg.reactor))[0].tag == "pvc/node/*/dead"
