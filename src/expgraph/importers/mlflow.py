"""MLflow: any tracking URI (``./mlruns``, ``file:``, ``sqlite:///``, ``http://``) read through ``MlflowClient``.

The client hides the store's private format; what it does not do for us is done here: the "latest" metric
value and a history summary from ``get_metric_history``, artifact listings resolved relative to the store
(MLflow bakes absolute artifact URIs that break when a store is moved), and noticing runs the file store skips
silently (a malformed ``meta.yaml`` only makes MLflow log a debug line).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import sqlite3
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import yaml

from expgraph.importers.base import (
    Importer,
    Record,
    SourceError,
    inside,
    map_status,
    parameter,
    register,
    require,
    walk_files,
)
from expgraph.records import (
    Agent,
    Artifact,
    Checksum,
    CodeVersion,
    DatasetSnapshot,
    Experiment,
    MetricHistory,
    MetricValue,
    Run,
    RunStatus,
)

STATUS = {
    "FINISHED": RunStatus.FINISHED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.KILLED,
    "RUNNING": RunStatus.RUNNING,
    "SCHEDULED": RunStatus.QUEUED,
}
#: Tags MLflow itself does not set but projects use to keep the error of a failed run; the first one wins.
ERROR_TAGS = ("error", "error_message", "exception", "traceback", "mlflow.error")
#: Tags turned into fields of the run; the others are kept as tags.
_MAPPED_TAGS = {"mlflow.runName", "mlflow.user", "mlflow.parentRunId", "mlflow.source.git.commit",
                "mlflow.source.git.repoURL", "mlflow.source.git.branch", "mlflow.note.content", *ERROR_TAGS}
_PAGE = 50_000  # MLflow's maximum: its file store re-reads every run for each page, so fewer pages is faster
#: What a damaged store makes MLflow's readers raise besides MlflowException.
_READ_ERRORS = (yaml.YAMLError, OSError, ValueError, KeyError, TypeError)


def _time(millis: int | None) -> datetime | None:
    return datetime.fromtimestamp(millis / 1000, UTC) if millis else None


def _value(value: float) -> float:
    """MLflow's sqlite store saves +-inf as +-sys.float_info.max: give the infinity back."""
    return math.copysign(math.inf, value) if abs(value) == sys.float_info.max else value


@contextlib.contextmanager
def _file_store_allowed() -> Iterator[None]:
    """MLflow 3 refuses file stores unless MLFLOW_ALLOW_FILE_STORE=true: set it while we read, then restore."""
    previous = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = previous


def _local_path(uri: str | None) -> Path | None:
    parsed = urlparse(uri or "")
    return Path(unquote(parsed.path)) if uri and parsed.scheme in ("", "file") else None


def latest(history: list[Any]) -> Any:
    """MLflow's "latest" value: highest step, then newest timestamp (NaN loses a full tie, deterministically)."""
    return max(history, key=lambda m: (m.step, m.timestamp, not math.isnan(m.value), m.value))


def summarise(key: str, history: list[Any]) -> MetricValue:
    """Final value plus first/min/max/count; min and max ignore NaN unless every value is NaN."""
    final = latest(history)
    first = min(history, key=lambda m: (m.timestamp, m.step))
    values = [_value(m.value) for m in history if not math.isnan(m.value)] or [math.nan]
    return MetricValue(
        key=key,
        value=_value(final.value),
        step=final.step,
        timestamp=_time(final.timestamp),
        history=MetricHistory(first=_value(first.value), minimum=min(values), maximum=max(values), count=len(history)),
    )


@register
class MlflowImporter(Importer):
    """Import an MLflow tracking store: experiments, runs, params, metrics, datasets, artifacts, models."""

    tracker = "mlflow"
    source_help = "Tracking URI or path: ./mlruns, file:/path/mlruns, sqlite:///mlflow.db or http://host:port."

    #: Run folders already reported as unreadable (so the completeness check does not list them twice).
    _unreadable: set[str]

    def __init__(self, source: str, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self._unreadable = set()

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

    # -- the source -------------------------------------------------------------------------------------------

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
            self._check_sqlite(db)
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

    @staticmethod
    def _check_sqlite(db: Path) -> None:
        """Open read-only first: MLflow would happily create tables in any sqlite file it is given."""
        try:
            with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as connection:
                tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as error:
            raise SourceError(db, f"not a readable sqlite database ({error})") from None
        if not {"experiments", "runs", "alembic_version"} <= tables:
            raise SourceError(db, "not an MLflow tracking database (no experiments/runs tables)")

    def identity(self) -> str:
        return self.uri

    def _client(self) -> Any:
        tracking = require("mlflow.tracking", "mlflow")
        registry = self.uri if self.root is None or self.uri.startswith("file:") else self.root.as_uri()
        return tracking.MlflowClient(tracking_uri=self.uri, registry_uri=registry)

    # -- reading ----------------------------------------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        with _file_store_allowed():
            yield from self._records()

    def _records(self) -> Iterator[Record]:
        entities = require("mlflow.entities", "mlflow")
        exceptions = require("mlflow.exceptions", "mlflow")
        client = self._client()
        try:
            experiments = client.search_experiments(view_type=entities.ViewType.ALL)
            self._check_complete_experiments(experiments)
            for experiment in sorted(experiments, key=lambda e: e.experiment_id):
                yield self._experiment(experiment)
            try:
                runs = self._search_runs(client, [e.experiment_id for e in experiments], entities.ViewType.ALL)
            except (exceptions.MlflowException, *_READ_ERRORS) as error:
                if not (self.collector.skip_invalid and self.root is not None and self.uri.startswith("file:")):
                    raise
                self.collector.warn(f"{self._error(error, self.source, 'search failed')}; reading runs one by one")
                runs = self._runs_one_by_one(client, experiments, (exceptions.MlflowException, *_READ_ERRORS))
            self._check_complete_runs(experiments, runs)
            for done, run in enumerate(runs, 1):
                try:
                    yield self._run(client, run)
                except (exceptions.MlflowException, *_READ_ERRORS) as error:
                    self.collector.invalid(self._error(error, self._run_path(run), "cannot read the run"))
                self.progress(done, len(runs))
        except (exceptions.MlflowException, *_READ_ERRORS) as error:
            raise self._error(error, self.source, "MLflow cannot read the store") from None

    @staticmethod
    def _error(error: Exception, where: str, what: str) -> SourceError:
        """A SourceError naming the file MLflow choked on when it says which (YAML errors do)."""
        mark = getattr(error, "problem_mark", None)
        if isinstance(error, yaml.YAMLError) and mark is not None:
            return SourceError(mark.name, f"{what}: invalid YAML at line {mark.line + 1}: {error.problem}")
        return SourceError(where, f"{what}: {getattr(error, 'message', error)}")

    def _search_runs(self, client: Any, experiment_ids: list[str], view: int) -> list[Any]:
        runs: list[Any] = []
        token = None
        while experiment_ids:
            page = client.search_runs(experiment_ids, run_view_type=view, max_results=_PAGE, page_token=token,
                                      order_by=["attributes.start_time ASC", "attributes.run_id ASC"])
            runs.extend(page)
            token = page.token
            if not token:
                break
        return runs

    def _runs_one_by_one(self, client: Any, experiments: list[Any], errors: tuple[type, ...]) -> list[Any]:
        """The slow path of ``--skip-invalid`` on a damaged file store: each run folder on its own."""
        from mlflow.store.tracking.file_store import FileStore

        runs = []
        for experiment in sorted(experiments, key=lambda e: e.experiment_id):
            folder = self._experiment_dir(experiment.experiment_id)
            for child in sorted(folder.iterdir()) if folder else ():
                if child.is_dir() and child.name not in FileStore.RESERVED_EXPERIMENT_FOLDERS:
                    try:
                        runs.append(client.get_run(child.name))
                    except errors as error:
                        self._unreadable.add(child.name)
                        self.collector.invalid(self._error(error, str(child), "cannot read the run"))
        return sorted(runs, key=lambda r: (r.info.start_time or 0, r.info.run_id))

    def _check_complete_experiments(self, experiments: list[Any]) -> None:
        """A file-store experiment MLflow skipped (bad ``meta.yaml``) is an error, not a silent omission."""
        if self.root is None or not self.uri.startswith("file:"):
            return
        known = {e.experiment_id for e in experiments}
        for parent in (self.root, self.root / ".trash"):
            for child in sorted(parent.iterdir()) if parent.is_dir() else ():
                # experiment folders are numbered; others (a file registry's models/, .trash) are not experiments
                if child.is_dir() and child.name.isdigit() and child.name not in known:
                    if child.name == "0" and not (child / "meta.yaml").exists():
                        continue
                    self.collector.invalid(SourceError(child / "meta.yaml", "MLflow cannot read this experiment"))

    def _check_complete_runs(self, experiments: list[Any], runs: list[Any]) -> None:
        if self.root is None or not self.uri.startswith("file:"):
            return
        from mlflow.store.tracking.file_store import FileStore

        known = {run.info.run_id for run in runs} | self._unreadable
        for experiment in experiments:
            folder = self._experiment_dir(experiment.experiment_id)
            for child in sorted(folder.iterdir()) if folder and folder.is_dir() else ():
                if (child.is_dir() and child.name not in FileStore.RESERVED_EXPERIMENT_FOLDERS
                        and child.name not in known):
                    self.collector.invalid(SourceError(child / "meta.yaml", "MLflow cannot read this run"))

    def _experiment_dir(self, experiment_id: str) -> Path | None:
        assert self.root is not None
        for parent in (self.root, self.root / ".trash"):
            if (parent / experiment_id).is_dir():
                return parent / experiment_id
        return None

    def _run_path(self, run: Any) -> str:
        if self.root is not None and self.uri.startswith("file:"):
            return str(self.root / run.info.experiment_id / run.info.run_id)
        return f"{self.uri} run {run.info.run_id}"

    def _experiment(self, experiment: Any) -> Experiment:
        tags = dict(experiment.tags)
        description = tags.pop("mlflow.note.content", None)
        if experiment.lifecycle_stage == "deleted":
            tags["deleted"] = "true"
        return Experiment(
            native_id=experiment.experiment_id,
            name=experiment.name,
            project=tags.get("project"),
            description=description,
            tags=tags,
        )

    def _run(self, client: Any, run: Any) -> Run:
        info, tags = run.info, dict(run.data.tags)
        status = map_status(info.status, STATUS)
        if status is RunStatus.RUNNING and info.end_time:
            status = RunStatus.UNKNOWN  # "running" with an end time: MLflow never learnt how it ended
        code = None
        if "mlflow.source.git.commit" in tags:
            code = CodeVersion(tags["mlflow.source.git.commit"], repository=tags.get("mlflow.source.git.repoURL"),
                               branch=tags.get("mlflow.source.git.branch"))
        user = tags.get("mlflow.user") or info.user_id
        return Run(
            native_id=info.run_id,
            experiment_id=info.experiment_id,
            status=status,
            name=info.run_name or tags.get("mlflow.runName"),
            started=_time(info.start_time),
            ended=_time(info.end_time),
            agent=Agent(user) if user else None,
            parent_id=tags.get("mlflow.parentRunId"),
            params=tuple(parameter(key, value) for key, value in sorted(run.data.params.items())),
            metrics=tuple(summarise(key, self._history(client, info, key)) for key in sorted(run.data.metrics)),
            datasets=tuple(sorted((self._dataset(item) for item in run.inputs.dataset_inputs),
                                  key=lambda d: (d.name, d.version or ""))),
            code=code,
            artifacts=self._artifacts(client, run),
            tags={key: value for key, value in tags.items() if key not in _MAPPED_TAGS},
            description=tags.get("mlflow.note.content"),
            error_text=next((tags[key] for key in ERROR_TAGS if tags.get(key)), None),
            runtime_seconds=(info.end_time - info.start_time) / 1000 if info.end_time and info.start_time else None,
            deleted=info.lifecycle_stage == "deleted",
        )

    def _history(self, client: Any, info: Any, key: str) -> list[Any]:
        """Every value logged for a metric. On a file store the run's folder is known, so its metric file is
        parsed with MLflow's own line parser: ``get_metric_history`` would first search every experiment folder
        for the run, which makes an import quadratic in the number of runs (measured in benchmarks/)."""
        if self.root is not None and self.uri.startswith("file:"):
            from mlflow.store.tracking.file_store import FileStore

            folder = self._experiment_dir(info.experiment_id)
            path = inside(folder, f"{info.run_id}/metrics/{key}") if folder else None
            if path is not None and path.is_file():
                lines = path.read_text(encoding="utf-8").splitlines()
                return [FileStore._get_metric_from_line(info.run_id, key, line, info.experiment_id)
                        for line in lines if line.strip()]
        return client.get_metric_history(info.run_id, key)

    @staticmethod
    def _dataset(item: Any) -> DatasetSnapshot:
        dataset = item.dataset
        context = next((tag.value for tag in item.tags if tag.key == "mlflow.data.context"), None)
        try:
            source = json.loads(dataset.source)
        except (TypeError, ValueError):
            source = dataset.source
        location = next((source[k] for k in ("url", "uri", "path", "table_name") if k in source), None) \
            if isinstance(source, dict) else source
        return DatasetSnapshot(
            name=dataset.name,
            checksum=Checksum("mlflow-digest", dataset.digest) if dataset.digest else None,
            version=dataset.digest or None,
            location=str(location) if location else None,
            context=context,
        )

    # -- artifacts and models ---------------------------------------------------------------------------------

    def local_artifacts(self, uri: str, *anchors: str) -> Path | None:
        """Where an artifact URI lives inside this store, or None: never a path outside the store.

        A URI inside the store is taken as it is; one pointing elsewhere (the store was moved or copied) is
        re-rooted from its ``anchor`` component (experiment id) on: ``<root>/<exp>/...`` or ``<root>/mlruns/<exp>/...``.
        """
        if self.root is None:
            return None
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
        for candidate in candidates:
            resolved = candidate.resolve()
            if (resolved == self.root or self.root in resolved.parents) and resolved.is_dir():
                return resolved
        return None

    def _artifacts(self, client: Any, run: Any) -> tuple[Artifact, ...]:
        info = run.info
        artifacts: list[Artifact] = []
        folder = self.local_artifacts(info.artifact_uri, info.experiment_id)
        if folder is not None:
            files = list(walk_files(folder, self.collector))
            model_dirs = {path.parent for _, path in files if path.name == "MLmodel"}
            for relative, path in files:
                is_model = any(parent in model_dirs for parent in path.parents)
                artifacts.append(Artifact(relative, is_model=is_model, size=path.stat().st_size,
                                          location=path.relative_to(self.root).as_posix()))
        elif self.root is None:
            artifacts += self._remote_artifacts(client, info.run_id)
        elif _local_path(info.artifact_uri) is not None and _local_path(info.artifact_uri).exists():
            self.collector.warn(f"run {info.run_id}: artifacts at {info.artifact_uri} are outside the store, not read")
        for output in (getattr(run, "outputs", None) and run.outputs.model_outputs) or ():
            artifacts.append(self._logged_model(client, output.model_id))
        return tuple(artifacts)

    def _remote_artifacts(self, client: Any, run_id: str, path: str | None = None) -> list[Artifact]:
        found: list[Artifact] = []
        for item in client.list_artifacts(run_id, path):
            if item.is_dir:
                found += self._remote_artifacts(client, run_id, item.path)
            else:
                found.append(Artifact(item.path, size=item.file_size))
        return found

    def _logged_model(self, client: Any, model_id: str) -> Artifact:
        model = client.get_logged_model(model_id)
        folder = self.local_artifacts(model.artifact_location, model.experiment_id)
        location = folder.relative_to(self.root).as_posix() if folder and self.root else None
        return Artifact(f"models/{model.name}", is_model=True, location=location or model.model_uri)
