"""The MLflow importer: which store a tracking URI names, which reader reads it, and the records it yields."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import yaml

from expgraph.importers.base import Importer, Record, SourceError, environment_set, require
from expgraph.importers.mlflow import convert
from expgraph.importers.mlflow.client import ClientReader
from expgraph.importers.mlflow.file_store import FileStoreReader
from expgraph.importers.mlflow.sql_store import SqlStoreReader
from expgraph.importers.mlflow.sqlite import check_database
from expgraph.importers.mlflow.sqlite import opened as sqlite_opened


def _file_store_allowed() -> contextlib.AbstractContextManager[None]:
    """MLflow 3 refuses file stores unless MLFLOW_ALLOW_FILE_STORE=true."""
    return environment_set({"MLFLOW_ALLOW_FILE_STORE": "true"})


class MlflowImporter(Importer):
    """Import an MLflow tracking store: experiments, runs, params, metrics, datasets, artifacts, models."""

    tracker = "mlflow"
    source_help = "Tracking URI or path: ./mlruns, file:/path/mlruns, sqlite:///mlflow.db or http://host:port."

    @functools.cached_property
    def _resolved(self) -> tuple[str, Path | None]:
        return self._resolve(self.source)

    @property
    def uri(self) -> str:
        """The normalised tracking URI (absolute path for local stores): the source's identity."""
        return self._resolved[0]

    @property
    def root(self) -> Path | None:
        """The local directory the store lives in; None for a tracking server."""
        return self._resolved[1]

    def _resolve(self, source: str) -> tuple[str, Path | None]:
        """The tracking URI to open and the local directory the store lives in (None for servers)."""
        parsed = urlparse(source)
        if parsed.scheme.lower() in ("http", "https"):  # scheme and host are case-insensitive: normalise them
            normal = parsed._replace(scheme=parsed.scheme.lower(), netloc=parsed.netloc.lower())
            return normal.geturl().rstrip("/"), None
        if parsed.scheme == "sqlite":
            db = Path(unquote(parsed.path)[1:]).expanduser()  # sqlite:///rel.db, sqlite:////abs.db
            if not db.is_file():
                raise SourceError(db, "no such sqlite file (refusing to let MLflow create an empty store)")
            check_database(db)
            return f"sqlite:///{db.resolve()}", db.resolve().parent
        if parsed.scheme == "file":
            path = Path(unquote(parsed.path))
        elif parsed.scheme and len(parsed.scheme) > 1:
            raise SourceError(source, f"unsupported tracking URI scheme {parsed.scheme!r}")
        else:
            path = Path(source)
        path = path.expanduser()
        if not path.is_dir():
            raise SourceError(path, "no such MLflow file store directory")
        path = path.resolve()
        if not any(child.joinpath("meta.yaml").is_file() for child in path.iterdir() if child.is_dir()):
            raise SourceError(path, "not an MLflow file store (no experiment with a meta.yaml)")
        return path.as_uri(), path

    def identity(self) -> str:
        return self.uri

    def fingerprint_roots(self) -> list[Path] | None:
        """A file store's folder; a database or a server can change without any file telling (yet)."""
        return [self.root] if self.root is not None and self.uri.startswith("file:") else None

    def source_root(self) -> Path:
        if self.root is None:
            raise SourceError(self.uri, "a tracking server has no files to read")
        return self.root

    def reader(self) -> ClientReader:
        """The reader of this kind of store: a file store's, a sqlite store's, or the client's (a server)."""
        if self.root is None:
            return ClientReader(self)
        return FileStoreReader(self) if self.uri.startswith("file:") else SqlStoreReader(self)

    def _client(self, tracking_uri: str) -> Any:
        tracking = require("mlflow.tracking", "mlflow")
        registry = self.uri if self.root is None or self.uri.startswith("file:") else self.root.as_uri()
        return tracking.MlflowClient(tracking_uri=tracking_uri, registry_uri=registry)

    def records(self) -> Iterator[Record]:
        reader = self.reader()
        with _file_store_allowed(), environment_set(reader.environment()), self._opened() as tracking_uri:
            yield from self._records(reader, tracking_uri)

    @contextlib.contextmanager
    def _opened(self) -> Iterator[str]:
        """The URI MLflow reads: the source's own, except that a sqlite database is opened read-only."""
        if self.uri.startswith("sqlite:"):
            with sqlite_opened(Path(self.uri.removeprefix("sqlite:///"))) as tracking_uri:
                yield tracking_uri
        else:
            yield self.uri

    def _records(self, reader: ClientReader, tracking_uri: str) -> Iterator[Record]:
        entities = require("mlflow.entities", "mlflow")
        exceptions = require("mlflow.exceptions", "mlflow")
        errors = (exceptions.MlflowException, *convert.READ_ERRORS)
        reader.check()
        client = self._client(tracking_uri)
        try:
            experiments = client.search_experiments(view_type=entities.ViewType.ALL)
            reader.check_experiments(experiments)
            for experiment in sorted(experiments, key=lambda e: e.experiment_id):
                yield convert.experiment(experiment)
            try:
                runs = reader.runs(client, experiments)
            except errors as error:
                runs = reader.recover(client, experiments, error, errors)
            reader.check_runs(experiments, runs)
            for done, run in enumerate(runs, 1):
                try:
                    data = reader.read(client, run)
                    yield convert.run(data, reader.artifacts(client, data))
                except errors as error:
                    self.collector.invalid(self.error(error, reader.run_path(run), "cannot read the run"))
                self.progress(done, len(runs))
        except errors as error:
            raise reader.unreachable(error) or self.error(error, self.source, "MLflow cannot read the store") from None

    @staticmethod
    def error(error: Exception, where: str, what: str) -> SourceError:
        """A SourceError naming the file MLflow choked on when it says which (YAML errors do)."""
        mark = getattr(error, "problem_mark", None)
        if isinstance(error, yaml.YAMLError) and mark is not None:
            return SourceError(mark.name, f"{what}: invalid YAML at line {mark.line + 1}: {error.problem}")
        return SourceError(where, f"{what}: {getattr(error, 'message', error)}")
