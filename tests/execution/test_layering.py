"""Dependencies point down: adapters never import execution modules (no job context in a
backend), and pvc.execution never imports pvc.modules (the modules import it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pvc

PKG = Path(pvc.__file__).resolve().parent
ADAPTERS = ("virt", "ceph", "net", "frr", "dnsmasq")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (inside functions too), relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(("pvc", *path.relative_to(PKG).parent.parts))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _offending(paths: list[Path], forbidden: str) -> dict[str, list[str]]:
    bad = {}
    for path in paths:
        hits = sorted(m for m in imported_modules(path) if m == forbidden or m.startswith(f"{forbidden}."))
        if hits:
            bad[str(path.relative_to(PKG))] = hits
    return bad


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_adapters_import_nothing_from_modules(adapter: str) -> None:
    files = sorted((PKG / adapter).rglob("*.py"))
    assert files, f"no adapter files under pvc/{adapter}"
    assert _offending(files, "pvc.modules") == {}


def test_execution_does_not_import_modules() -> None:
    assert _offending(sorted((PKG / "execution").rglob("*.py")), "pvc.modules") == {}


def test_the_walker_sees_imports_inside_functions() -> None:
    assert "pvc.errors" in imported_modules(PKG / "virt" / "connection.py")
    assert "pvc.virt.connection" in imported_modules(PKG / "virt" / "events.py")  # imported inside a method
