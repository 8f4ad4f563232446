"""pvc.states.tree: tree paths are checked before any file is touched; FileRoots reads, lists
(prefix "" = the whole tree) and refuses symlinks out of its root."""

from __future__ import annotations

from pathlib import Path

import pytest

from pvc.states.tree import FileRoots, UnsafePath, list_dirs, read_text, sls_candidates, tree_path


@pytest.mark.parametrize("bad", ["../etc/passwd", "a/../../b", "/etc/passwd", "salt://../x", "a\x00b", "a\\b",
                                 "", "salt://", "./"])
def test_unsafe_paths_are_refused(bad: str) -> None:
    with pytest.raises(UnsafePath):
        tree_path(bad)


def test_paths_and_sls_names() -> None:
    assert tree_path("salt://ntp/./files//ntp.conf?saltenv=base") == "ntp/files/ntp.conf"
    assert sls_candidates("web.nginx") == [("web/nginx.sls", False), ("web/nginx/init.sls", True)]
    for bad in (".web", "web..x", "web/x", ""):
        with pytest.raises(UnsafePath):
            sls_candidates(bad)


def test_file_roots_read_list_and_symlinks(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    (first / "ntp/files").mkdir(parents=True)
    (second / "ntp").mkdir(parents=True)
    (first / "ntp/init.sls").write_text("first")
    (second / "ntp/init.sls").write_text("second")
    (second / "ntp/map.jinja").write_text("map")
    (first / "ntp/files/ntp.conf").write_text("conf")
    (first / "escape").symlink_to("/etc/passwd")
    (first / "inside").symlink_to(first / "ntp/init.sls")
    tree = FileRoots([first, second])
    assert read_text(tree, "ntp/init.sls") == "first" and read_text(tree, "salt://ntp/map.jinja") == "map"
    assert tree.read("ntp/none") is None and read_text(tree, "inside") == "first"
    with pytest.raises(UnsafePath, match="leads out of the state tree"):
        tree.read("escape")
    assert tree.list("ntp") == ["ntp/files/ntp.conf", "ntp/init.sls", "ntp/map.jinja"]
    assert "escape" not in tree.list("") and "ntp/map.jinja" in tree.list("")
    assert list_dirs(tree) == ["ntp", "ntp/files"] and list_dirs(tree, "ntp/files") == ["ntp/files"]
