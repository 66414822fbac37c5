"""The two ways an import fails that every importer shares (apart from ``base`` so that ``paths`` can raise them)."""

from __future__ import annotations

import os


class SourceError(Exception):
    """A source that cannot be imported; the message names the file and what is wrong with it."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class MissingDependency(Exception):
    """The tracker's client library is not installed; the message says which extra to install."""
