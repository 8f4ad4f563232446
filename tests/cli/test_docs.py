"""The docs stay true: the module reference is regenerated, every option is documented, every
link resolves, and the install path is the same in the README, the docs and the systemd units."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from pvc.config import MasterConfig, MinionConfig

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
INSTALLED = "/opt/pvc/bin/pvc"


def test_modules_reference_is_up_to_date():
    from pvc.cli.docgen import render

    assert (DOCS / "modules.md").read_text() == render(), \
        "docs/modules.md is stale: run .venv/bin/python -m pvc.cli.docgen docs/modules.md"


@pytest.mark.parametrize("cls", [MasterConfig, MinionConfig])
def test_every_config_option_is_documented(cls):
    text = (DOCS / "configuration.md").read_text()
    undocumented = [f.name for f in dataclasses.fields(cls) if f"| `{f.name}` |" not in text]
    assert undocumented == [], f"add these options to docs/configuration.md: {undocumented}"


@pytest.mark.parametrize("page", ["README.md", *[f"docs/{p.name}" for p in sorted(DOCS.glob("*.md"))]])
def test_relative_links_resolve(page):
    path = ROOT / page
    for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", path.read_text()):
        assert (path.parent / target).exists(), f"{page} links to missing {target}"


def test_readme_links_every_doc_and_no_missing_design_file():
    readme = (ROOT / "README.md").read_text()
    for doc in ("architecture", "protocol", "configuration", "modules", "operations"):
        assert f"(docs/{doc}.md)" in readme
    assert "DESIGN.md" not in readme


@pytest.mark.parametrize("unit", sorted((ROOT / "systemd").glob("*.service")), ids=lambda p: p.name)
def test_units_run_the_installed_binary(unit):
    text = unit.read_text()
    exec_start = re.search(r"^ExecStart=(\S+)", text, re.MULTILINE)
    assert exec_start and exec_start.group(1) == INSTALLED
    assert "example.org" not in text
    assert INSTALLED.rsplit("/bin/", 1)[0] in (ROOT / "README.md").read_text()
    assert f"ln -sf {INSTALLED}" in (DOCS / "operations.md").read_text()
