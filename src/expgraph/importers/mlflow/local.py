"""What the two local stores (file store, sqlite) share: no server to wait for, and artifacts read from the store's
own folder, resolved relative to the store (MLflow bakes absolute artifact URIs that break when a store is moved).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from expgraph.importers.base import SourceError
from expgraph.importers.mlflow.client import ClientReader
from expgraph.importers.mlflow.convert import RunData
from expgraph.importers.paths import walk_files
from expgraph.records import Artifact


def _local_path(uri: str | None) -> Path | None:
    parsed = urlparse(uri or "")
    return Path(unquote(parsed.path)) if uri and parsed.scheme in ("", "file") else None


class LocalReader(ClientReader):
    """A store in a local folder (``importer.root``)."""

    @property
    def root(self) -> Path:
        assert self.importer.root is not None
        return self.importer.root

    def environment(self) -> dict[str, str]:
        return {}

    def unreachable(self, error: Exception) -> SourceError | None:
        return None

    def local_artifacts(self, uri: str, *anchors: str) -> Path | None:
        """Where an artifact URI lives inside this store, or None: never a path outside the store.

        A URI inside the store is taken as it is; one pointing elsewhere (the store was moved or copied) is
        re-rooted from its ``anchor`` component (experiment id) on: ``<root>/<exp>/...`` or
        ``<root>/mlruns/<exp>/...``.
        """
        parsed = urlparse(uri)
        if parsed.scheme not in ("", "file"):
            return None
        path = Path(unquote(parsed.path))
        if not path.is_absolute():
            path = self.root / path
        candidates = [path]
        parts = path.parts
        for anchor in anchors:
            if anchor in parts:
                tail = Path(*parts[len(parts) - parts[::-1].index(anchor) - 1:])
                candidates += [self.root / tail, self.root / "mlruns" / tail]
        root = str(self.root)
        for candidate in candidates:
            resolved = os.path.realpath(candidate)  # os.path: this runs once per run, Path.resolve costs more
            if (resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep)) and os.path.isdir(resolved):
                return Path(resolved)
        return None

    def artifacts(self, client: Any, run: RunData) -> tuple[Artifact, ...]:
        """The files of the run's artifact folder (read through the path guard), and its logged models."""
        info = run.info
        artifacts: list[Artifact] = []
        folder = self.local_artifacts(info.artifact_uri, info.experiment_id)
        if folder is not None:
            files = list(walk_files(folder, self.importer.collector))
            model_dirs = {path.parent for _, path in files if path.name == "MLmodel"}
            start = len(str(self.root).rstrip(os.sep)) + 1  # every path is inside the root: cut it off as text
            for relative, path in files:
                is_model = bool(model_dirs) and any(parent in model_dirs for parent in path.parents)
                artifacts.append(Artifact(relative, is_model=is_model, size=os.stat(path).st_size,
                                          location=str(path)[start:].replace(os.sep, "/")))
        elif (outside := _local_path(info.artifact_uri)) is not None and outside.exists():
            self.importer.collector.warn(
                f"run {info.run_id}: artifacts at {info.artifact_uri} are outside the store, not read")
        return (*artifacts, *self.models(client, run))
