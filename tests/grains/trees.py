"""Build small fake machine roots (a few files under tmp_path) for Host-based probe tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pvc.grains.host import Host


def make_host(root: Path, files: Mapping[str, str]) -> Host:
    """A :class:`Host` whose root holds ``files`` (absolute path on the fake machine -> text)."""
    root.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return Host(str(root))
