"""Streamed SHA-256 of files and directory trees, with a cache keyed by path, size and modification time.

A run's inputs can be tens of gigabytes, and the same dataset is used by run after run: it is hashed once and the
digest reused while the file keeps its size and modification time (to the nanosecond) and its inode. The cache
lives in the user's cache directory (``$XDG_CACHE_HOME/expgraph/hashes.sqlite`` unless the ``hash_cache`` setting
names another file), not in the catalog's store: it describes files on this machine, whichever store (embedded
or remote) the runs go to, and deleting it only costs time.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

_CHUNK = 1 << 20


def default_cache_path() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "expgraph" / "hashes.sqlite"


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read in 1 MiB chunks (never whole into memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class HashCache:
    """Digests of files by (absolute path, size, mtime in ns, inode); ``None`` as path keeps nothing."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self.computed = 0  # files hashed (not found in the cache) since this cache was opened

    def _connection(self) -> sqlite3.Connection | None:
        if self._db is None and self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("CREATE TABLE IF NOT EXISTS digest (path TEXT PRIMARY KEY, size INTEGER, "
                             "mtime_ns INTEGER, inode INTEGER, sha256 TEXT)")
        return self._db

    def file(self, path: Path) -> str:
        """The SHA-256 of one file, from the cache when the file is unchanged."""
        path = path.resolve()
        stat = path.stat()
        key = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        db = self._connection()
        if db is not None:
            row = db.execute("SELECT size, mtime_ns, inode, sha256 FROM digest WHERE path = ?", (str(path),)).fetchone()
            if row is not None and tuple(row[:3]) == key:
                return row[3]
        value = file_sha256(path)
        self.computed += 1
        if db is not None:
            with db:
                db.execute("INSERT OR REPLACE INTO digest VALUES (?, ?, ?, ?, ?)", (str(path), *key, value))
        return value

    def tree(self, root: Path) -> tuple[str, int]:
        """A directory's digest and total size: SHA-256 over ``<file sha256>  <relative posix path>`` lines of
        every file below it, sorted by path (a ``sha256sum`` manifest), so renames and moves change it too."""
        lines, size = [], 0
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in files:
                path = Path(folder, name)
                if path.is_file():
                    lines.append(f"{self.file(path)}  {path.relative_to(root).as_posix()}\n")
                    size += path.stat().st_size
        lines.sort(key=lambda line: line[66:])
        return hashlib.sha256("".join(lines).encode()).hexdigest(), size

    def digest(self, path: Path) -> tuple[str, int]:
        """A file's or a directory tree's SHA-256 and size in bytes."""
        if path.is_dir():
            return self.tree(path)
        return self.file(path), path.stat().st_size

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
