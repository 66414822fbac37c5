"""The one path-safety check of every importer read (importers.paths.PathGuard), on real links and names."""

from __future__ import annotations

from pathlib import Path

import pytest

from expgraph.importers import Collector
from expgraph.importers.paths import PathGuard


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    (root / "run" / "params").mkdir(parents=True)
    (root / "run" / "params" / "lr").write_text("0.1", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("TOP SECRET", encoding="utf-8")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "lr").write_text("TOP SECRET", encoding="utf-8")
    return root


def _guard(root: Path) -> PathGuard:
    return PathGuard(root, Collector())


def test_plain_files_and_links_that_stay_inside_are_read(tree: Path) -> None:
    (tree / "run" / "params" / "alias").symlink_to(tree / "run" / "params" / "lr")
    (tree / "linked-run").symlink_to(tree / "run", target_is_directory=True)
    guard = _guard(tree)
    assert guard.read_bytes(tree / "run" / "params" / "lr") == b"0.1"
    assert guard.read_bytes(tree / "run" / "params" / "alias") == b"0.1"
    assert guard.read_bytes(tree / "linked-run" / "params" / "lr") == b"0.1"
    assert guard.collector.warnings == []


@pytest.mark.parametrize("plant", ["file link", "folder link", "dotdot", "absolute"])
def test_anything_leading_out_is_skipped_with_a_warning_naming_it(tree: Path, plant: str) -> None:
    if plant == "file link":
        path = tree / "run" / "params" / "token"
        path.symlink_to(tree.parent / "secret.txt")
    elif plant == "folder link":
        (tree / "run" / "tags").symlink_to(tree.parent / "outside", target_is_directory=True)
        path = tree / "run" / "tags" / "lr"
    elif plant == "dotdot":
        path = tree / "run" / ".." / ".." / "secret.txt"
    else:
        path = tree.parent / "secret.txt"
    guard = _guard(tree)
    assert guard.read_bytes(path) is None and guard.check(path) is None
    assert len(guard.collector.warnings) == 2 and all(str(path) in w and "outside" in w
                                                      for w in guard.collector.warnings)


def test_a_missing_file_is_an_os_error_not_a_refusal(tree: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _guard(tree).read_bytes(tree / "run" / "params" / "missing")


def test_links_leaving_finds_them_without_following_any(tree: Path) -> None:
    (tree / "run" / "params" / "token").symlink_to(tree.parent / "secret.txt")
    (tree / "run" / "meta").symlink_to(tree.parent / "outside", target_is_directory=True)
    (tree / "run" / "inside").symlink_to(tree / "run" / "params", target_is_directory=True)
    guard = _guard(tree)
    assert sorted(p.name for p in guard.links_leaving()) == ["meta", "token"]
    assert [p.name for p in guard.links_leaving(skip=lambda parent, name: name == "params")] == ["meta"]
