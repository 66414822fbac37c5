"""MLflow's entities as expgraph records: what every reader (file store, SQL store, tracking server) hands over is a
:class:`RunData`, and these functions make the same records of it whichever reader it came from."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from expgraph.importers.base import SHAPE_ERRORS, map_status, parameter
from expgraph.importers.series import Point, summarise
from expgraph.records import (
    Agent,
    Artifact,
    Checksum,
    CodeVersion,
    DatasetSnapshot,
    Experiment,
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
#: What a damaged store makes MLflow's readers (and ours) raise besides MlflowException.
READ_ERRORS = (yaml.YAMLError, OSError, *SHAPE_ERRORS)


@dataclass(slots=True)
class RunData:
    """One run as read from the store, whichever way: MLflow's ``RunInfo`` and the run's data."""

    info: Any
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, list[Point]]  # every logged value per key, in logging order
    datasets: list[Any] = field(default_factory=list)  # mlflow.entities.DatasetInput
    model_ids: list[str] = field(default_factory=list)  # logged models this run output


def time(millis: int | None) -> datetime | None:
    return datetime.fromtimestamp(millis / 1000, UTC) if millis else None


def _value(value: float) -> float:
    """MLflow's sqlite store saves +-inf as +-sys.float_info.max: give the infinity back."""
    return math.copysign(math.inf, value) if abs(value) == sys.float_info.max else value


def summary(key: str, points: Sequence[Point]) -> MetricValue:
    """The one summary (``series.summarise``) of every value logged, each kept for the charts (``eg:history``, cut
    to 10,000 points by the mapper), with the infinities MLflow's sqlite store keeps as +-max given back."""
    given_back = [point if abs(point.value) != sys.float_info.max else point._replace(value=_value(point.value))
                  for point in points]
    return summarise(key, given_back, time=time, keep=True)


def experiment(entity: Any) -> Experiment:
    tags = dict(entity.tags)
    description = tags.pop("mlflow.note.content", None)
    if entity.lifecycle_stage == "deleted":
        tags["deleted"] = "true"
    return Experiment(
        native_id=entity.experiment_id,
        name=entity.name,
        project=tags.get("project"),
        description=description,
        tags=tags,
    )


def run(data: RunData, artifacts: tuple[Artifact, ...]) -> Run:
    info, tags = data.info, data.tags
    status = map_status(info.status, STATUS)
    if status is RunStatus.RUNNING and info.end_time:
        status = RunStatus.UNKNOWN  # "running" with an end time: MLflow never learnt how it ended
    code = None
    if "mlflow.source.git.commit" in tags:
        code = CodeVersion(tags["mlflow.source.git.commit"], repository=tags.get("mlflow.source.git.repoURL"),
                           branch=tags.get("mlflow.source.git.branch"))
    user = tags.get("mlflow.user") or info.user_id
    metrics = tuple(summary(key, data.metrics[key]) for key in sorted(data.metrics))
    return Run(
        native_id=info.run_id,
        experiment_id=info.experiment_id,
        status=status,
        name=info.run_name or tags.get("mlflow.runName"),
        started=time(info.start_time),
        ended=time(info.end_time),
        agent=Agent(user) if user else None,
        parent_id=tags.get("mlflow.parentRunId"),
        params=tuple(parameter(key, value) for key, value in sorted(data.params.items())),
        metrics=metrics,
        datasets=tuple(sorted((dataset(item) for item in data.datasets), key=lambda d: (d.name, d.version or ""))),
        code=code,
        artifacts=artifacts,
        tags={key: value for key, value in tags.items() if key not in _MAPPED_TAGS},
        description=tags.get("mlflow.note.content"),
        error_text=next((tags[key] for key in ERROR_TAGS if tags.get(key)), None),
        runtime_seconds=(info.end_time - info.start_time) / 1000 if info.end_time and info.start_time else None,
        deleted=info.lifecycle_stage == "deleted",
        # MLflow has no heartbeat: a run's newest logged value is its last sign of life
        last_seen=max((metric.timestamp for metric in metrics if metric.timestamp), default=None),
    )


def dataset(item: Any) -> DatasetSnapshot:
    """An MLflow ``DatasetInput`` as the snapshot the run used."""
    entity = item.dataset
    context = next((tag.value for tag in item.tags if tag.key == "mlflow.data.context"), None)
    try:
        source = json.loads(entity.source)
    except (TypeError, ValueError):
        source = entity.source
    location = next((source[k] for k in ("url", "uri", "path", "table_name") if k in source), None) \
        if isinstance(source, dict) else source
    return DatasetSnapshot(
        name=entity.name,
        checksum=Checksum("mlflow-digest", entity.digest) if entity.digest else None,
        version=entity.digest or None,
        location=str(location) if location else None,
        context=context,
    )
