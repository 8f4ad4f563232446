"""Fixtures for state runs against a real state tree on disk and the real execution modules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from pvc.config import MinionConfig
from pvc.minion.functions import MinionFunctions
from pvc.states.apply import StateInputs, apply_sls
from pvc.states.caller import RegistryCaller
from pvc.states.result import StateRun
from pvc.states.tree import FileRoots

GRAINS = {"id": "node1", "os": "Debian", "os_family": "Debian", "osrelease": "12", "host": "node1",
          "roles": ["hypervisor"], "ipv4": ["127.0.0.1", "10.0.0.11"]}


class Tree:
    """A file_roots directory a test writes SLS and templates into, and runs."""

    def __init__(self, root: Path, modules: Mapping[str, Any] | None = None,
                 funcs: MinionFunctions | None = None, grains: Mapping[str, Any] | None = None) -> None:
        self.root = root
        self.grains = {**GRAINS, **(grains or {})}
        self.funcs = funcs or MinionFunctions(MinionConfig(id="node1", modules=dict(modules or {})),
                                              grains=self.grains)

    def write(self, files: Mapping[str, str]) -> Tree:
        for rel, text in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return self

    def inputs(self, pillar: Mapping[str, Any] | None = None) -> StateInputs:
        funcs = self.funcs
        caller = RegistryCaller(funcs.registry, lambda mod, test: funcs.context(mod, test=test), pillar or {})
        return StateInputs(tree=FileRoots([self.root]), grains=self.grains, pillar=pillar or {}, caller=caller,
                           minion_id="node1")

    def run(self, *names: str, pillar: Mapping[str, Any] | None = None, test: bool = False) -> StateRun:
        return apply_sls(list(names), self.inputs(pillar), test=test)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    root = tmp_path / "srv"
    root.mkdir()
    return Tree(root)


@pytest.fixture
def tree_with() -> Callable[[Path, Mapping[str, Any]], Tree]:
    """A tree whose minion has the given ``modules:`` config (timezone paths, ...)."""
    def make(root: Path, modules: Mapping[str, Any]) -> Tree:
        root.mkdir(exist_ok=True)
        return Tree(root, modules)
    return make


def converge(tree: Tree, sls: str, plan: str = "all", pillar: Mapping[str, Any] | None = None) -> StateRun:
    """Test mode plans changes (``plan``: "all" states say None, "first" only the first -- later
    ones may depend on what it creates -- or "none" to skip), the first run changes something,
    the second run reports no changes. Returns the first run."""
    if plan != "none":
        planned = tree.run(sls, test=True, pillar=pillar)
        checked = planned.results if plan == "all" else planned.results[:1]
        assert all(r.result.result is None for r in checked), [r.result.comment for r in planned.results]
    first = tree.run(sls, pillar=pillar)
    assert first.ok, [(r.chunk.id, r.result.comment) for r in first.results if r.result.result is not True]
    assert first.changed
    again = tree.run(sls, pillar=pillar)
    assert again.ok and not again.changed, [(r.chunk.id, r.result.changes) for r in again.changed]
    return first
