"""What an importer must not change: every file and folder of a source, as a comparable snapshot."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under ``root`` (and ``root`` itself): its content digest (a symlink's target), mode, modification
    time and size. A new file (a journal, a lock, ``.trash``, ``__pycache__``) or a touched folder shows."""
    entries = {}
    for path in [root, *sorted(root.rglob("*"))]:
        info = path.lstat()
        if path.is_symlink():
            content: object = os.readlink(path)
        elif path.is_file():
            content = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            content = "dir"
        entries[path.relative_to(root).as_posix()] = (content, info.st_mode, info.st_mtime_ns, info.st_size)
    return entries


def changes(before: dict[str, tuple[object, ...]], after: dict[str, tuple[object, ...]]) -> list[str]:
    """The entries added, removed or changed between two snapshots."""
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
