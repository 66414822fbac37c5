"""MLflow: any tracking URI (``./mlruns``, ``file:``, ``sqlite:///``, ``http://``), opened with ``MlflowClient``.

A tracking server is read through the client: ``search_runs``, then ``get_metric_history`` per metric and
``list_artifacts``. A local store is read in bulk through the store object the client opened, because the
client's per-run calls made an import several times slower than ``search_runs`` alone (benchmarks/): on a
file store MLflow parses each ``meta.yaml`` and the run's files are read directly, each metric file once; on
sqlite a few queries over MLflow's own table models fetch every run, param, tag and metric value, and MLflow's
bulk readers the dataset inputs and model outputs. Either way the result is the same ``_Read`` per run.

Done here on top: the "latest" metric value and a history summary, artifact listings resolved relative to the
store (MLflow bakes absolute artifact URIs that break when a store is moved), and noticing runs the file store
skips silently (a malformed ``meta.yaml`` only makes MLflow log a debug line).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import yaml

from expgraph.importers.base import (
    SHAPE_ERRORS,
    Importer,
    Record,
    SourceError,
    environment_set,
    map_status,
    parameter,
    require,
)
from expgraph.importers.mlflow_sqlite import check_database
from expgraph.importers.mlflow_sqlite import opened as sqlite_opened
from expgraph.importers.paths import walk_files
from expgraph.importers.series import Point, Totals, summarise
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
_CHUNK = 500  # run ids per IN (...) of MLflow's bulk readers: sqlite caps the variables of one statement
#: What a damaged store makes MLflow's readers (and ours) raise besides MlflowException.
_READ_ERRORS = (yaml.YAMLError, OSError, *SHAPE_ERRORS)


def _time(millis: int | None) -> datetime | None:
    return datetime.fromtimestamp(millis / 1000, UTC) if millis else None


def _value(value: float) -> float:
    """MLflow's sqlite store saves +-inf as +-sys.float_info.max: give the infinity back."""
    return math.copysign(math.inf, value) if abs(value) == sys.float_info.max else value


def _file_store_allowed() -> contextlib.AbstractContextManager[None]:
    """MLflow 3 refuses file stores unless MLFLOW_ALLOW_FILE_STORE=true."""
    return environment_set({"MLFLOW_ALLOW_FILE_STORE": "true"})


def _server_limits(timeout: float | None) -> dict[str, str]:
    """MLflow's HTTP client waits 120 s per request and retries 7 times with growing pauses (over 4 minutes for a
    server that is not there): wait ``timeout`` instead, with two quick retries for passing failures (unless the
    user set MLflow's own retry variables)."""
    if timeout is None:
        return {}
    return {"MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, math.ceil(timeout))),  # MLflow reads whole seconds
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2"),
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": os.environ.get("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")}


def _local_path(uri: str | None) -> Path | None:
    parsed = urlparse(uri or "")
    return Path(unquote(parsed.path)) if uri and parsed.scheme in ("", "file") else None


def _summary(key: str, points: Sequence[Point], whole: Totals | None = None) -> MetricValue:
    """The one summary (``series.summarise``), with the infinities MLflow's sqlite store keeps as +-max given back."""
    metric = summarise(key, points, whole=whole, time=_time)
    history = metric.history
    assert history is not None
    return replace(metric, value=_value(metric.value), history=MetricHistory(
        first=_value(history.first), minimum=_value(history.minimum), maximum=_value(history.maximum),
        count=history.count))


def metric_points(data: bytes, path: str | os.PathLike[str], run_id: str, key: str, experiment_id: str) -> list[Point]:
    """A file store's metric file (its bytes, read at ``path``). The common ``timestamp value step`` line is split
    here; other shapes go through MLflow's own line parser, which also rejects malformed lines. No value at all is
    an error, as in MLflow's ``search_runs``."""
    from mlflow.store.tracking.file_store import FileStore

    points: list[Point] = []
    text = data.decode("utf-8")
    for line in text.splitlines():
        parts = line.strip().split(" ")
        if len(parts) == 3:
            points.append(Point(int(parts[2]), int(parts[0]), float(parts[1])))
        elif line.strip():
            metric = FileStore._get_metric_from_line(run_id, key, line, experiment_id)
            points.append(Point(metric.step, metric.timestamp, metric.value))
    if not points:
        raise ValueError(f"{path}: metric {key!r} is malformed, no data found")
    return points


def _keyed_files(folder: str | os.PathLike[str], prefix: str = "") -> Iterator[tuple[str, str]]:
    """A file store's params/, tags/ or metrics/ folder as (key, file path); a ``/`` in a key is a subfolder.
    Walked as MLflow's ``os.walk`` does (a symlinked folder is not entered), with ``scandir`` for speed."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    for entry in entries:
        if not entry.is_dir():
            yield prefix + entry.name, entry.path
        elif not entry.is_symlink():
            yield from _keyed_files(entry.path, f"{prefix}{entry.name}/")


#: A run's folders this importer reads itself, through the path guard (MLflow's readers get the rest).
_OWN_READS = {"params", "metrics", "tags", "artifacts"}


@dataclass(slots=True)
class _Read:
    """One run as read from the store, whichever way: MLflow's ``RunInfo`` and the run's data."""

    info: Any
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, list[Point] | MetricValue]  # every logged value per key, or (SQL stores) the summary
    datasets: list[Any] = field(default_factory=list)  # mlflow.entities.DatasetInput
    model_ids: list[str] = field(default_factory=list)  # logged models this run output


class MlflowImporter(Importer):
    """Import an MLflow tracking store: experiments, runs, params, metrics, datasets, artifacts, models."""

    tracker = "mlflow"
    source_help = "Tracking URI or path: ./mlruns, file:/path/mlruns, sqlite:///mlflow.db or http://host:port."

    #: Run folders already reported as unreadable (so the completeness check does not list them twice).
    _unreadable: set[str]
    #: File store: dataset folders per experiment folder, and the datasets read so far by (folder, id).
    _dataset_dirs: dict[Path, set[str]]
    _datasets: dict[tuple[Path, str], Any]

    def __init__(self, source: str, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self._unreadable = set()
        self._dataset_dirs, self._datasets = {}, {}

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

    def _client(self, tracking_uri: str) -> Any:
        tracking = require("mlflow.tracking", "mlflow")
        registry = self.uri if self.root is None or self.uri.startswith("file:") else self.root.as_uri()
        return tracking.MlflowClient(tracking_uri=tracking_uri, registry_uri=registry)

    # -- reading ----------------------------------------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        with _file_store_allowed(), environment_set(_server_limits(self.timeout) if self.root is None else {}), \
                self._opened() as tracking_uri:
            yield from self._records(tracking_uri)

    @contextlib.contextmanager
    def _opened(self) -> Iterator[str]:
        """The URI MLflow reads: the source's own, except that a sqlite database is opened read-only."""
        if self.uri.startswith("sqlite:"):
            with sqlite_opened(Path(self.uri.removeprefix("sqlite:///"))) as tracking_uri:
                yield tracking_uri
        else:
            yield self.uri

    def _records(self, tracking_uri: str) -> Iterator[Record]:
        entities = require("mlflow.entities", "mlflow")
        exceptions = require("mlflow.exceptions", "mlflow")
        self._check_links()
        client = self._client(tracking_uri)
        try:
            experiments = client.search_experiments(view_type=entities.ViewType.ALL)
            self._check_complete_experiments(experiments)
            for experiment in sorted(experiments, key=lambda e: e.experiment_id):
                yield self._experiment(experiment)
            try:
                runs = self._read_runs(client, experiments)
            except (exceptions.MlflowException, *_READ_ERRORS) as error:
                if not (self.collector.skip_invalid and self.root is not None and self.uri.startswith("file:")):
                    raise
                self.collector.warn(f"{self._error(error, self.source, 'search failed')}; reading runs one by one")
                self._check_links(all_folders=True)  # MLflow reads every file of a run this way
                runs = self._runs_one_by_one(client, experiments, (exceptions.MlflowException, *_READ_ERRORS))
            self._check_complete_runs(experiments, runs)
            for done, run in enumerate(runs, 1):
                try:
                    yield self._run(client, run if isinstance(run, _Read) else self._from_client(client, run))
                except (exceptions.MlflowException, *_READ_ERRORS) as error:
                    self.collector.invalid(self._error(error, self._run_path(run), "cannot read the run"))
                self.progress(done, len(runs))
        except (exceptions.MlflowException, *_READ_ERRORS) as error:
            raise self._unreachable(error) or self._error(error, self.source, "MLflow cannot read the store") from None

    def _unreachable(self, error: Exception) -> SourceError | None:
        """One short line for a tracking server that cannot be reached or does not answer (MLflow's own message
        is urllib3's retry report, and suggests the timeout variable that ``_server_limits`` sets)."""
        if self.root is not None:
            return None
        import requests  # MLflow's HTTP client
        import urllib3

        cause: BaseException | None = error
        while cause is not None and not isinstance(cause, requests.RequestException):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            return None
        last = getattr(cause.args[0], "reason", None) if cause.args else None  # the last try, after retries
        refused = isinstance(last, urllib3.exceptions.NewConnectionError)  # (a ConnectTimeoutError subclass)
        if not refused and (isinstance(cause, requests.Timeout) or isinstance(last, urllib3.exceptions.TimeoutError)):
            within = f" within {self.timeout:g} s (--timeout)" if self.timeout is not None else ""
            return SourceError(self.uri, f"the MLflow server did not answer{within}")
        if isinstance(cause, requests.ConnectionError):
            return SourceError(self.uri, "cannot reach an MLflow server there (is it running?)")
        return None

    @staticmethod
    def _error(error: Exception, where: str, what: str) -> SourceError:
        """A SourceError naming the file MLflow choked on when it says which (YAML errors do)."""
        mark = getattr(error, "problem_mark", None)
        if isinstance(error, yaml.YAMLError) and mark is not None:
            return SourceError(mark.name, f"{what}: invalid YAML at line {mark.line + 1}: {error.problem}")
        return SourceError(where, f"{what}: {getattr(error, 'message', error)}")

    def _read_runs(self, client: Any, experiments: list[Any]) -> list[Any]:
        """Every run, sorted by start time: ``_Read`` from a local store, MLflow ``Run`` from a server."""
        from mlflow.entities import ViewType
        from mlflow.store.tracking.file_store import FileStore

        store = client._tracking_client.store
        ids = [e.experiment_id for e in experiments]
        if (self.root is not None and isinstance(store, FileStore)
                and hasattr(store, "_list_run_infos") and hasattr(store, "_get_all_outputs")):
            runs = [self._file_run(store, info) for i in ids for info in store._list_run_infos(i, ViewType.ALL)]
        elif (self.root is not None and type(store).__name__ == "SqlAlchemyStore"  # its module needs sqlalchemy
              and hasattr(store, "_get_run_inputs") and hasattr(store, "_get_model_outputs_bulk")):
            runs = self._sql_runs(store, ids)  # (an MLflow without these private readers: search_runs below)
        else:
            return self._search_runs(client, ids, ViewType.ALL)
        return sorted(runs, key=lambda r: (r.info.start_time or 0, r.info.run_id))

    def _file_run(self, store: Any, info: Any) -> _Read:
        """One file-store run from its folder: what ``search_runs`` reads, without its per-file lookups of the
        run folder, and each metric file read once for the whole history."""
        folder = self._experiment_dir(info.experiment_id)
        assert folder is not None  # MLflow just listed the run in it
        run_dir = folder / info.run_id
        metrics = {key: metric_points(data, path, info.run_id, key, info.experiment_id)
                   for key, path, data in self._files(run_dir / "metrics")}
        outputs = store._get_all_outputs(info).model_outputs if (run_dir / "outputs").is_dir() else []
        return _Read(info, self._texts(run_dir / "params"), self._texts(run_dir / "tags"), metrics,
                     self._file_datasets(run_dir, folder), [output.model_id for output in outputs])

    def _files(self, folder: Path) -> Iterator[tuple[str, str, bytes]]:
        """A run's params/, tags/ or metrics/ folder as (key, path, content), read through the path guard: a
        file linking outside the store is skipped with a warning."""
        for key, path in _keyed_files(folder):
            if (data := self.guard.read_bytes(path)) is not None:
                yield key, path, data

    def _texts(self, folder: Path) -> dict[str, str]:
        """A params/ or tags/ folder: key to the file's text, decoded as MLflow reads it (UTF-8, no newline
        translation)."""
        return {key: data.decode("utf-8") for key, _, data in self._files(folder)}

    def _check_links(self, *, all_folders: bool = False) -> None:
        """Before MLflow's own readers see a file store: a link leading outside it is an error naming the link,
        since MLflow would follow it. The folders this importer reads itself are left to the path guard (a
        warning, the file skipped), unless MLflow is to read those too (``all_folders``)."""
        if self.root is None or not self.uri.startswith("file:"):
            return
        own = set() if all_folders else _OWN_READS
        for link in self.guard.links_leaving(skip=lambda parent, name: name in own and len(parent) == 32):
            raise SourceError(link, f"links outside the store {self.root}; not imported (MLflow would read it)")

    def _file_datasets(self, run_dir: Path, experiment_dir: Path) -> list[Any]:
        """A file-store run's dataset inputs, read as MLflow's ``_get_dataset_inputs`` reads them, except that
        each dataset's ``meta.yaml`` is parsed once per import instead of once per run that used it."""
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.protos.internal_pb2 import InputVertexType
        from mlflow.store.tracking.file_store import FileStore

        inputs, datasets = run_dir / FileStore.INPUTS_FOLDER_NAME, experiment_dir / FileStore.DATASETS_FOLDER_NAME
        if not inputs.is_dir() or not datasets.is_dir():
            return []
        if experiment_dir not in self._dataset_dirs:
            self._dataset_dirs[experiment_dir] = set(os.listdir(datasets))
        found = []
        for name in os.listdir(inputs):
            link = FileStore._FileStoreInput.from_yaml(str(inputs / name), FileStore.META_DATA_FILE_NAME)
            if link.source_type != InputVertexType.DATASET:
                continue
            if link.source_id not in self._dataset_dirs[experiment_dir]:  # MLflow skips it with a log line
                self.collector.warn(f"{inputs / name}: dataset {link.source_id} not found, input skipped")
                continue
            if (experiment_dir, link.source_id) not in self._datasets:
                self._datasets[experiment_dir, link.source_id] = FileStore._get_dataset_from_dir(
                    str(datasets), link.source_id)
            found.append(DatasetInput(self._datasets[experiment_dir, link.source_id],
                                      [InputTag(key, value) for key, value in link.tags.items()]))
        return found

    def _sql_runs(self, store: Any, experiment_ids: list[str]) -> list[_Read]:
        """Every run of a SQL store in a few queries over MLflow's table models (``search_runs`` loads ORM
        objects, and ``get_metric_history`` is one query per run and metric)."""
        from mlflow.entities import RunInfo
        from mlflow.store.tracking.dbmodels.models import SqlParam, SqlRun, SqlTag
        from sqlalchemy import select

        runs: dict[str, _Read] = {}
        with store.ManagedSessionMaker() as session:
            query = select(SqlRun.run_uuid, SqlRun.name, SqlRun.experiment_id, SqlRun.user_id, SqlRun.status,
                           SqlRun.start_time, SqlRun.end_time, SqlRun.lifecycle_stage, SqlRun.artifact_uri)
            wanted = {str(i) for i in experiment_ids}
            for row in session.execute(query):
                if str(row.experiment_id) in wanted:
                    info = RunInfo(run_id=row.run_uuid, run_name=row.name, experiment_id=str(row.experiment_id),
                                   user_id=row.user_id, status=row.status, start_time=row.start_time,
                                   end_time=row.end_time, lifecycle_stage=row.lifecycle_stage,
                                   artifact_uri=row.artifact_uri)
                    runs[row.run_uuid] = _Read(info, {}, {}, {})
            for run_id, key, value in session.execute(select(SqlParam.run_uuid, SqlParam.key, SqlParam.value)):
                if run_id in runs:
                    runs[run_id].params[key] = value
            for run_id, key, value in session.execute(select(SqlTag.run_uuid, SqlTag.key, SqlTag.value)):
                if run_id in runs:
                    runs[run_id].tags[key] = value
            for (run_id, key), (candidates, whole) in self._sql_metrics(session).items():
                if run_id in runs:
                    runs[run_id].metrics[key] = _summary(key, candidates, whole)
            ids = list(runs)
            for start in range(0, len(ids), _CHUNK):  # MLflow's own bulk readers, as search_runs uses them
                chunk = ids[start:start + _CHUNK]
                for run_id, inputs in zip(chunk, store._get_run_inputs(session, chunk), strict=True):
                    runs[run_id].datasets = inputs
                for run_id, outputs in store._get_model_outputs_bulk(chunk, session).items():
                    runs[run_id].model_ids = [output.model_id for output in outputs]
        return list(runs.values())

    @staticmethod
    def _sql_metrics(session: Any) -> dict[tuple[str, str], tuple[list[Point], Totals]]:
        """Per (run, key): its first and last rows (by step, timestamp and logging order, which is sqlite's
        ``rowid``: the one definition of ``series``, which chooses between them), and the totals of its history
        (NaN as minimum and maximum when there are no numbers). Summarised by the database, in one query with
        window aggregates, instead of reading every value of every history. MLflow stores NaN as ``is_nan``."""
        from mlflow.store.tracking.dbmodels.models import SqlMetric
        from sqlalchemy import case, false, func, literal_column, or_, select

        group = {"partition_by": (SqlMetric.run_uuid, SqlMetric.key)}
        order = (SqlMetric.step, SqlMetric.timestamp, literal_column("metrics.rowid"))
        number = case((SqlMetric.is_nan == false(), SqlMetric.value))  # NULL for NaN: MIN and MAX skip it
        ranked = select(SqlMetric.run_uuid, SqlMetric.key, SqlMetric.timestamp, SqlMetric.step, SqlMetric.value,
                        SqlMetric.is_nan, literal_column("metrics.rowid").label("logged"),
                        func.count().over(**group).label("count"),
                        func.min(number).over(**group).label("minimum"),
                        func.max(number).over(**group).label("maximum"),
                        func.row_number().over(**group, order_by=order).label("from_first"),
                        func.row_number().over(**group, order_by=[o.desc() for o in order]).label("from_last"),
                        ).subquery()
        query = select(ranked).where(or_(ranked.c.from_first == 1, ranked.c.from_last == 1)).order_by(ranked.c.logged)
        metrics: dict[tuple[str, str], tuple[list[Point], Totals]] = {}
        for row in session.execute(query):
            point = Point(row.step, row.timestamp, math.nan if row.is_nan else row.value)
            if (row.run_uuid, row.key) in metrics:
                metrics[row.run_uuid, row.key][0].append(point)
            else:
                metrics[row.run_uuid, row.key] = ([point], Totals(
                    math.nan if row.minimum is None else row.minimum, math.nan if row.maximum is None else row.maximum,
                    row.count))
        return metrics

    def _from_client(self, client: Any, run: Any) -> _Read:
        """An MLflow ``Run`` from ``search_runs``/``get_run``, with each metric's history fetched."""
        info, outputs = run.info, (getattr(run, "outputs", None) and run.outputs.model_outputs) or ()
        return _Read(info, dict(run.data.params), dict(run.data.tags),
                     {key: history for key in run.data.metrics if (history := self._history(client, info, key))},
                     list(run.inputs.dataset_inputs), [output.model_id for output in outputs])

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

    def _run(self, client: Any, run: _Read) -> Run:
        info, tags = run.info, run.tags
        status = map_status(info.status, STATUS)
        if status is RunStatus.RUNNING and info.end_time:
            status = RunStatus.UNKNOWN  # "running" with an end time: MLflow never learnt how it ended
        code = None
        if "mlflow.source.git.commit" in tags:
            code = CodeVersion(tags["mlflow.source.git.commit"], repository=tags.get("mlflow.source.git.repoURL"),
                               branch=tags.get("mlflow.source.git.branch"))
        user = tags.get("mlflow.user") or info.user_id
        metrics = tuple(self._metric(key, run.metrics[key]) for key in sorted(run.metrics))
        return Run(
            native_id=info.run_id,
            experiment_id=info.experiment_id,
            status=status,
            name=info.run_name or tags.get("mlflow.runName"),
            started=_time(info.start_time),
            ended=_time(info.end_time),
            agent=Agent(user) if user else None,
            parent_id=tags.get("mlflow.parentRunId"),
            params=tuple(parameter(key, value) for key, value in sorted(run.params.items())),
            metrics=metrics,
            datasets=tuple(sorted((self._dataset(item) for item in run.datasets),
                                  key=lambda d: (d.name, d.version or ""))),
            code=code,
            artifacts=self._artifacts(client, run),
            tags={key: value for key, value in tags.items() if key not in _MAPPED_TAGS},
            description=tags.get("mlflow.note.content"),
            error_text=next((tags[key] for key in ERROR_TAGS if tags.get(key)), None),
            runtime_seconds=(info.end_time - info.start_time) / 1000 if info.end_time and info.start_time else None,
            deleted=info.lifecycle_stage == "deleted",
            # MLflow has no heartbeat: a run's newest logged value is its last sign of life
            last_seen=max((metric.timestamp for metric in metrics if metric.timestamp), default=None),
        )

    @staticmethod
    def _metric(key: str, read: list[Point] | MetricValue) -> MetricValue:
        return read if isinstance(read, MetricValue) else _summary(key, read)

    def _history(self, client: Any, info: Any, key: str) -> list[Point]:
        """Every value logged for a metric. On a file store the run's folder is known, so its metric file is
        parsed here: ``get_metric_history`` would first search every experiment folder for the run, which makes
        an import quadratic in the number of runs (measured in benchmarks/)."""
        if self.root is not None and self.uri.startswith("file:"):
            folder = self._experiment_dir(info.experiment_id)
            path = folder / info.run_id / "metrics" / key if folder else None
            if path is not None and path.is_file():
                data = self.guard.read_bytes(path)
                return [] if data is None else metric_points(data, path, info.run_id, key, info.experiment_id)
        return [Point(m.step, m.timestamp, m.value) for m in client.get_metric_history(info.run_id, key)]

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
        root = str(self.root)
        for candidate in candidates:
            resolved = os.path.realpath(candidate)  # os.path: this runs once per run, Path.resolve costs more
            if (resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep)) and os.path.isdir(resolved):
                return Path(resolved)
        return None

    def _artifacts(self, client: Any, run: _Read) -> tuple[Artifact, ...]:
        info = run.info
        artifacts: list[Artifact] = []
        folder = self.local_artifacts(info.artifact_uri, info.experiment_id)
        if folder is not None:
            files = list(walk_files(folder, self.collector))
            model_dirs = {path.parent for _, path in files if path.name == "MLmodel"}
            start = len(str(self.root).rstrip(os.sep)) + 1  # every path is inside the root: cut it off as text
            for relative, path in files:
                is_model = bool(model_dirs) and any(parent in model_dirs for parent in path.parents)
                artifacts.append(Artifact(relative, is_model=is_model, size=os.stat(path).st_size,
                                          location=str(path)[start:].replace(os.sep, "/")))
        elif self.root is None:
            artifacts += self._remote_artifacts(client, info.run_id)
        elif _local_path(info.artifact_uri) is not None and _local_path(info.artifact_uri).exists():
            self.collector.warn(f"run {info.run_id}: artifacts at {info.artifact_uri} are outside the store, not read")
        artifacts += [self._logged_model(client, model_id) for model_id in run.model_ids]
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
