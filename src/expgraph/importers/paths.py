"""Path safety and the state of a source's files: what every importer reads goes through here.

``PathGuard`` is the one check of every file an importer reads (a link or ``..`` leading out of the source is
skipped with a warning, never read); ``inside`` the check of a name the source's own metadata gives (leading out is
an error); ``walk_files`` lists a folder through a guard; ``fingerprint`` digests the files' state so that an
unchanged source is recognised without reading it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from expgraph.importers.errors import SourceError


class Warned(Protocol):
    """Where a guard's warnings go (an importer's ``Collector``)."""

    def warn(self, message: str) -> None: ...


def inside(root: Path, candidate: str | os.PathLike[str]) -> Path:
    """Resolve ``candidate`` (relative to ``root``) and refuse it when it escapes ``root`` (``..``, symlinks).

    For names a source's own metadata gives (an artifact name in a run's record): such a name leading out is bad
    metadata, an error. Files found on disk go through :class:`PathGuard`, which skips those leading out."""
    root = root.resolve()
    path = (root / candidate).resolve()
    if path != root and root not in path.parents:
        raise SourceError(candidate, f"path escapes the source directory {root}")
    return path


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class PathGuard:
    """The one path-safety check every file an importer reads goes through: a file is read only when it resolves
    inside the source's root. A symlink (or ``..``) leading out is skipped with a warning naming it, never read.

    Cheap enough for every small file of a store: each directory is checked once (one ``lstat`` a component
    below the root, a full resolve only for links), and a file is opened with ``O_NOFOLLOW`` so that only a
    file that is itself a link is resolved."""

    def __init__(self, root: Path, collector: Warned, where: str = "source directory") -> None:
        self.root = root.resolve()
        self.collector = collector
        self.where = where
        self._prefix = str(self.root).rstrip(os.sep) + os.sep
        self._dirs: dict[str, bool] = {str(self.root): True}

    def _contains(self, real: str) -> bool:
        return real == str(self.root) or real.startswith(self._prefix)

    def _dir_inside(self, directory: str) -> bool:
        known = self._dirs.get(directory)
        if known is None:
            parent, name = os.path.split(directory)
            if parent == directory or not self._contains(directory) or name in ("", ".", ".."):
                known = self._contains(os.path.realpath(directory))
            else:
                known = self._dir_inside(parent) and (
                    not os.path.islink(directory) or self._contains(os.path.realpath(directory)))
            self._dirs[directory] = known
        return known

    def check(self, path: str | os.PathLike[str]) -> Path | None:
        """``path`` (absolute, or relative to the root) when it stays inside the root; None, with a warning
        naming it, when it leads out. Need not exist."""
        text = os.path.join(self.root, path)
        directory, name = os.path.split(text)
        if self._dir_inside(directory) and name not in ("..", ".") and (
                not os.path.islink(text) or self._contains(os.path.realpath(text))):
            return Path(text)
        return self._refuse(path)

    def read_bytes(self, path: str | os.PathLike[str]) -> bytes | None:
        """The whole file, or None (with a warning) when it leads outside the root; a missing file raises
        ``OSError`` as ``open`` does. ``os.read`` on a descriptor: a store holds many small files, and this reads
        each faster than ``open()``, which builds a buffered file object for one read (docs/importers.md)."""
        text = os.path.join(self.root, path)
        directory, name = os.path.split(text)
        if not self._dir_inside(directory) or name in ("..", "."):
            return self._refuse(path)
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
        try:
            handle = os.open(text, flags | _NOFOLLOW)
        except OSError:
            if not os.path.islink(text):
                raise
            # the file itself is a link (O_NOFOLLOW refused it): read it only when it leads to a file inside
            real = os.path.realpath(text)
            if not self._contains(real):
                return self._refuse(path)
            handle = os.open(real, flags)
        try:
            parts = []
            while data := os.read(handle, 1 << 16):
                parts.append(data)
        finally:
            os.close(handle)
        return b"".join(parts)

    def links_leaving(self, folder: str | os.PathLike[str] | None = None,
                      skip: Callable[[str, str], bool] = lambda parent, name: False) -> Iterator[Path]:
        """Links below ``folder`` (the root by default) that lead outside the root, found without following any:
        for trees a tracker's own library reads (it follows links), checked before handing them over. A folder
        for which ``skip(parent folder name, name)`` holds is not entered (one this importer reads itself,
        through the guard)."""
        try:
            with os.scandir(os.path.join(self.root, folder or "")) as scan:
                entries = list(scan)
        except (NotADirectoryError, FileNotFoundError):
            return
        parent = os.path.basename(os.path.join(self.root, folder or ""))
        for entry in entries:
            if entry.is_symlink():
                if not self._contains(os.path.realpath(entry.path)):
                    yield Path(entry.path)
            elif entry.is_dir() and not skip(parent, entry.name):
                yield from self.links_leaving(entry.path, skip)

    def _refuse(self, path: str | os.PathLike[str]) -> None:
        self.collector.warn(f"{path}: skipped, it links outside the {self.where} {self.root}")
        return None


def walk_files(root: Path, collector: Warned) -> Iterator[tuple[str, Path]]:
    """Files under ``root`` as (posix path relative to root, resolved path), sorted, each folder's files before
    its subfolders; links are checked by a :class:`PathGuard` of ``root``: those leading out are skipped with a
    warning instead of followed."""
    guard = PathGuard(root, collector)
    yield from _walk(guard, str(guard.root), "")


def _walk(guard: PathGuard, folder: str, prefix: str) -> Iterator[tuple[str, Path]]:
    """One folder of ``walk_files``, on ``os.scandir``: its entries know their type without a ``stat`` each,
    which makes walking a run's artifact folder about a third cheaper than ``os.walk`` with ``pathlib``."""
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError:  # as os.walk: an unreadable folder is passed over
        return
    folders = []
    for entry in entries:
        if entry.is_dir():
            if entry.is_symlink():
                guard.collector.warn(f"{entry.path}: skipped, a symlinked directory is not followed")
            else:
                folders.append(entry)
        elif entry.is_symlink():  # only links need resolving: the walk itself stays inside root
            if guard.check(entry.path) is not None and (path := Path(os.path.realpath(entry.path))).is_file():
                yield prefix + entry.name, path
        elif entry.is_file():
            yield prefix + entry.name, Path(entry.path)
    for entry in folders:
        yield from _walk(guard, entry.path, f"{prefix}{entry.name}/")


def fingerprint(paths: list[Path]) -> str:
    """A digest of the state of every file under ``paths`` (relative name, size, modification and change times
    in nanoseconds), found without following linked folders: what ``git status``, ``make`` and ``rsync`` trust
    to say a file is unchanged. Taken before an import reads anything, it lets an unchanged source be recognised
    at the cost of a ``stat`` per file instead of reading and parsing it (see ``catalog.run_import``)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{path}\0".encode())
        if path.is_dir():
            _fingerprint_folder(str(path), "", digest)
        else:
            _fingerprint_entry(path, "", digest)
    return digest.hexdigest()


def _fingerprint_entry(entry: os.DirEntry[str] | Path, name: str, digest: Any) -> None:
    try:
        stat = entry.stat()
    except OSError:  # a dangling link, or a file gone meanwhile: its name still counts
        digest.update(f"{name}\0-\n".encode())
        return
    digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ctime_ns}\n".encode())


def _fingerprint_folder(folder: str, prefix: str, digest: Any) -> None:
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            _fingerprint_folder(entry.path, f"{prefix}{entry.name}/", digest)
        else:
            _fingerprint_entry(entry, prefix + entry.name, digest)
