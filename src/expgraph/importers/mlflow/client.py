"""Reading through MLflow's public client only: how a tracking server is read, and the base of the local readers
(which fall back to it when the installed MLflow lacks the private readers they use).

``search_runs``, then ``get_metric_history`` per metric, ``list_artifacts`` and ``get_logged_model``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from expgraph.importers.base import SourceError
from expgraph.importers.mlflow.convert import RunData
from expgraph.importers.series import Point
from expgraph.records import Artifact

_PAGE = 50_000  # MLflow's maximum: its file store re-reads every run for each page, so fewer pages is faster


class StoreSource(Protocol):
    """What a reader needs of its importer (the MLflow importer is one): the store's URI, its local directory
    (None for a server) and how long to wait for it."""

    @property
    def uri(self) -> str: ...

    @property
    def root(self) -> Path | None: ...

    @property
    def timeout(self) -> float | None: ...


class ClientReader:
    """A store read through ``MlflowClient``'s public calls; one reader per import."""

    def __init__(self, importer: StoreSource) -> None:
        self.importer = importer

    def environment(self) -> dict[str, str]:
        """MLflow's HTTP client waits 120 s per request and retries 7 times with growing pauses (over 4 minutes for
        a server that is not there): wait ``--timeout`` instead, with two quick retries for passing failures
        (unless the user set MLflow's own retry variables)."""
        timeout = self.importer.timeout
        if timeout is None:
            return {}
        return {"MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, math.ceil(timeout))),  # MLflow reads whole seconds
                "MLFLOW_HTTP_REQUEST_MAX_RETRIES": os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2"),
                "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": os.environ.get("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")}

    def check(self) -> None:
        """What to refuse before MLflow's own readers see the store (nothing, for a server)."""

    def check_experiments(self, experiments: list[Any]) -> None:
        """Experiments MLflow skipped silently (a server says what it has)."""

    def check_runs(self, experiments: list[Any], runs: list[Any]) -> None:
        """Runs MLflow skipped silently (a server says what it has)."""

    def runs(self, client: Any, experiments: list[Any]) -> list[Any]:
        """Every run, sorted by start time: :class:`RunData`, or MLflow ``Run`` entities that :meth:`read` turns
        into it."""
        from mlflow.entities import ViewType

        ids = [e.experiment_id for e in experiments]
        found: list[Any] = []
        token = None
        while ids:
            page = client.search_runs(ids, run_view_type=ViewType.ALL, max_results=_PAGE, page_token=token,
                                      order_by=["attributes.start_time ASC", "attributes.run_id ASC"])
            found.extend(page)
            token = page.token
            if not token:
                break
        return found

    def recover(self, client: Any, experiments: list[Any], error: Exception, errors: tuple[type, ...]) -> list[Any]:
        """The runs after :meth:`runs` failed: only a damaged file store is read again, run by run."""
        raise error

    def read(self, client: Any, run: Any) -> RunData:
        """A run of :meth:`runs` as :class:`RunData`; an MLflow ``Run`` with each metric's history fetched."""
        if isinstance(run, RunData):
            return run
        info, outputs = run.info, (getattr(run, "outputs", None) and run.outputs.model_outputs) or ()
        return RunData(info, dict(run.data.params), dict(run.data.tags),
                       {key: history for key in run.data.metrics if (history := self.history(client, info, key))},
                       list(run.inputs.dataset_inputs), [output.model_id for output in outputs])

    def history(self, client: Any, info: Any, key: str) -> list[Point]:
        """Every value logged for a metric, in the order MLflow returns them."""
        return [Point(m.step, m.timestamp, m.value) for m in client.get_metric_history(info.run_id, key)]

    def run_path(self, run: Any) -> str:
        """Where a run is, for an error message."""
        return f"{self.importer.uri} run {run.info.run_id}"

    def artifacts(self, client: Any, run: RunData) -> tuple[Artifact, ...]:
        """The run's artifacts as the server lists them, and its logged models."""
        return (*self._listed(client, run.info.run_id), *self.models(client, run))

    def _listed(self, client: Any, run_id: str, path: str | None = None) -> Iterator[Artifact]:
        for item in client.list_artifacts(run_id, path):
            if item.is_dir:
                yield from self._listed(client, run_id, item.path)
            else:
                yield Artifact(item.path, size=item.file_size)

    def models(self, client: Any, run: RunData) -> list[Artifact]:
        """The logged models a run output, located inside the store where they are (a local store) or by URI."""
        found = []
        root = self.importer.root
        for model_id in run.model_ids:
            model = client.get_logged_model(model_id)
            folder = self.local_artifacts(model.artifact_location, model.experiment_id)
            location = folder.relative_to(root).as_posix() if folder and root else None
            found.append(Artifact(f"models/{model.name}", is_model=True, location=location or model.model_uri))
        return found

    def local_artifacts(self, uri: str, *anchors: str) -> Path | None:
        """Where an artifact URI lives inside a local store (a server has none)."""
        return None

    def unreachable(self, error: Exception) -> SourceError | None:
        """One short line for a tracking server that cannot be reached or does not answer (MLflow's own message
        is urllib3's retry report, and suggests the timeout variable :meth:`environment` sets)."""
        import requests  # MLflow's HTTP client
        import urllib3

        cause: BaseException | None = error
        while cause is not None and not isinstance(cause, requests.RequestException):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            return None
        last = getattr(cause.args[0], "reason", None) if cause.args else None  # the last try, after retries
        refused = isinstance(last, urllib3.exceptions.NewConnectionError)  # (a ConnectTimeoutError subclass)
        uri, timeout = self.importer.uri, self.importer.timeout
        if not refused and (isinstance(cause, requests.Timeout) or isinstance(last, urllib3.exceptions.TimeoutError)):
            within = f" within {timeout:g} s (--timeout)" if timeout is not None else ""
            return SourceError(uri, f"the MLflow server did not answer{within}")
        if isinstance(cause, requests.ConnectionError):
            return SourceError(uri, "cannot reach an MLflow server there (is it running?)")
        return None
