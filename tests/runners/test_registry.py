"""pvc/runners/registry.py: explicit names, unknown refused, arguments checked, sys.doc."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pvc.runners.context import RunnerContext, log_events
from pvc.runners.errors import RunnerArgumentError, UnknownRunner
from pvc.runners.jobs import NodeJobs, no_jobs
from pvc.runners.registry import RUNNER_MODULES, default_registry


def ctx() -> RunnerContext:
    log = logging.getLogger("test")
    return RunnerContext(store=None, jobs=NodeJobs(no_jobs), log=log,  # type: ignore[arg-type]
                         fire_event=log_events(log), registry=default_registry())


def test_every_module_registers_and_is_documented() -> None:
    reg = default_registry()
    assert reg.modules() == sorted(RUNNER_MODULES)
    for name in ("node.flush", "node.ready", "vm.define", "vm.list", "vm.migrate", "vm.unmigrate", "vm.move",
                 "sys.doc"):
        assert name in reg.names()
        assert reg.get(name).doc, name


def test_unknown_and_bad_arguments_refused() -> None:
    c = ctx()
    assert c.registry is not None
    with pytest.raises(UnknownRunner, match="node has: node.flush"):
        c.registry.call(c, "node.explode", ["hv1"])
    with pytest.raises(RunnerArgumentError, match="node.flush"):
        c.registry.call(c, "node.flush", [], {"bogus": 1})


def test_sys_doc() -> None:
    c = ctx()
    assert c.registry is not None
    docs: dict[str, Any] = c.registry.call(c, "sys.doc", ["node"])
    assert set(docs) == {"node.flush", "node.ready", "node.request"}
    assert "parallel" in docs["node.flush"]


def test_cli_sys_doc_needs_no_cluster(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from pvc.cli.main import cli

    result = CliRunner().invoke(cli, ["-c", str(tmp_path), "runner", "sys.doc", "vm.migrate"],
                                env={"PVC_ZOOKEEPER": ""})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("vm.migrate(name: 'str', node: 'str | None' = None")
    bad = CliRunner().invoke(cli, ["-c", str(tmp_path), "runner", "sys.doc", "vm.nope"])
    assert bad.exit_code == 2 and "no runner 'vm.nope'" in bad.output
