"""Sacred: a FileStorageObserver directory (``run.json``, ``config.json``, ``metrics.json``, ``info.json``).

Sacred's file layout is documented and plain JSON, so it is read directly (Sacred itself is not needed). A run
Sacred left RUNNING stays running; its heartbeat is its last sign of life, from which the mapper infers whether
the process is presumed dead (``records.Liveness``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from expgraph.importers.base import (
    Importer,
    Record,
    SourceError,
    expect,
    flatten,
    malformed_as_source_error,
    map_status,
    parameter,
    parse_json,
)
from expgraph.importers.paths import inside
from expgraph.importers.series import Point, summarise
from expgraph.records import (
    Agent,
    Artifact,
    Checksum,
    CodeVersion,
    DatasetSnapshot,
    Environment,
    Experiment,
    MetricValue,
    Run,
    RunStatus,
)

STATUS = {
    "COMPLETED": RunStatus.FINISHED,
    "FAILED": RunStatus.FAILED,
    "INTERRUPTED": RunStatus.KILLED,
    "TIMEOUT": RunStatus.FAILED,
    "QUEUED": RunStatus.QUEUED,
    "RUNNING": RunStatus.RUNNING,
}
#: ``name_<md5>.ext``: how the observer stores resources and sources.
_STORED = re.compile(r"_([0-9a-f]{32})(\.[^/]*)?$")


def _time(value: Any, where: Path | None = None, what: str = "time") -> datetime | None:
    """Sacred writes naive UTC timestamps (``datetime.utcnow``)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise SourceError(where or "run.json", f"{what} {value!r} is not an ISO 8601 date and time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _metric(key: str, series: Any, where: Path) -> MetricValue:
    try:
        steps, stamps, values = series["steps"], series["timestamps"], [float(v) for v in series["values"]]
    except (KeyError, TypeError, ValueError) as error:
        raise SourceError(where, f"metric {key!r} is not a steps/timestamps/values series ({error})") from None
    if not values or not len(steps) == len(stamps) == len(values):
        raise SourceError(where, f"metric {key!r} has series of different lengths")
    points = [Point(int(step), stamp, value) for step, stamp, value in zip(steps, stamps, values, strict=True)]
    return summarise(key, points, time=lambda stamp: _time(stamp, where, f"metric {key!r} timestamp"), keep=True)


class SacredImporter(Importer):
    """Import a Sacred FileStorageObserver directory: one run per numbered sub-directory."""

    tracker = "sacred"
    source_help = "Directory a Sacred FileStorageObserver writes to (holds 1/, 2/, ... and _sources/)."

    def records(self) -> Iterator[Record]:
        root = self.source_dir()
        folders = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))),
                         key=lambda p: (len(p.name), p.name))
        if not folders and not (root / "_sources").is_dir():
            raise SourceError(root, "not a Sacred FileStorageObserver directory (no run folders)")
        experiments: set[str] = set()
        for done, folder in enumerate(folders, 1):
            if self.guard.check(folder) is None:  # a run folder linking outside the store: skipped, warned
                continue
            try:
                with malformed_as_source_error(folder):
                    run, experiment = self._run(root, folder)
            except SourceError as error:
                self.collector.invalid(error)
            else:
                if experiment.native_id not in experiments:
                    experiments.add(experiment.native_id)
                    yield experiment
                yield run
            self.progress(done, len(folders))

    def _json(self, path: Path, *, required: bool = True) -> Any:
        try:
            data = self.guard.read_bytes(path)
        except FileNotFoundError:
            if required:
                raise SourceError(path, "missing") from None
            return None
        except OSError as error:
            raise SourceError(path, f"cannot be read ({error.strerror})") from None
        if data is None:  # it links outside the store: the guard warned and did not read it
            if required:
                raise SourceError(path, "links outside the store; not read")
            return None
        return parse_json(path, data)

    def _run(self, root: Path, folder: Path) -> tuple[Run, Experiment]:
        data = self._json(folder / "run.json")
        if not isinstance(data, dict) or not isinstance(data.get("experiment"), dict):
            raise SourceError(folder / "run.json", "not a Sacred run (no 'experiment' object)")
        config = self._json(folder / "config.json", required=False) or {}
        metrics = self._json(folder / "metrics.json", required=False) or {}
        info = self._json(folder / "info.json", required=False) or {}
        if not isinstance(config, dict) or not isinstance(metrics, dict):
            raise SourceError(folder, "config.json and metrics.json must hold JSON objects")
        where = folder / "run.json"
        spec = data["experiment"]
        name = str(spec.get("name") or "sacred")
        status, error = self._status(data, where)
        started = _time(data.get("start_time"), where, "start_time")
        ended = _time(data.get("stop_time"), where, "stop_time")
        seed = config.get("seed")
        host = expect(data.get("host"), dict, where, "'host'") or {}
        info = expect(info, dict, folder / "info.json", "the file") or {}
        run = Run(
            native_id=folder.name,
            experiment_id=name,
            status=status,
            name=f"{name} #{folder.name}",
            started=started,
            ended=ended,
            agent=Agent(host["ENV"]["USER"]) if isinstance(host.get("ENV"), dict) and host["ENV"].get("USER")
            else None,
            params=tuple(parameter(k, v) for k, v in flatten(config) if k != "seed"),
            metrics=tuple(_metric(key, metrics[key], folder / "metrics.json") for key in sorted(metrics)),
            datasets=self._resources(root, data.get("resources") or []),
            code=self._code(spec.get("repositories") or []),
            environment=Environment(
                python_version=host.get("python_version"),
                packages=tuple(sorted(spec.get("dependencies") or [])),
                hostname=host.get("hostname"),
                operating_system=(host.get("os") or [None, None])[-1],
            ) if host or spec.get("dependencies") else None,
            artifacts=self._artifacts(root, folder, data.get("artifacts") or []),
            tags={"command": str(data.get("command"))} | ({"comment": str(data["meta"]["comment"])}
                  if (data.get("meta") or {}).get("comment") else {}),
            description=json.dumps(info, sort_keys=True, ensure_ascii=False) if info else None,
            error_text=error,
            runtime_seconds=(ended - started).total_seconds() if started and ended else None,
            seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
            # Sacred beats every 10 s while the process lives
            last_seen=_time(data.get("heartbeat"), where, "heartbeat"),
        )
        return run, Experiment(native_id=name, name=name)

    @staticmethod
    def _status(data: dict[str, Any], where: Path) -> tuple[RunStatus, str | None]:
        raw = expect(data.get("status"), str, where, "'status'")
        status = map_status(raw, STATUS)
        trace = data.get("fail_trace")
        error = "".join(trace) if isinstance(trace, list) else (str(trace) if trace else None)
        if raw == "TIMEOUT":
            error = error or "TimeoutInterrupt: the run exceeded its time limit (Sacred status TIMEOUT)"
        if raw == "INTERRUPTED":
            error = error or "KeyboardInterrupt: the run was interrupted (Sacred status INTERRUPTED)"
        if status is RunStatus.RUNNING and data.get("stop_time"):
            return RunStatus.UNKNOWN, error  # "running" with a stop time: Sacred never learnt how it ended
        return status, error

    @staticmethod
    def _code(repositories: list[Any]) -> CodeVersion | None:
        for repository in repositories:
            if isinstance(repository, dict) and repository.get("commit"):
                return CodeVersion(str(repository["commit"]), repository=repository.get("url"),
                                   dirty=repository.get("dirty"))
        return None

    def _resources(self, root: Path, resources: list[Any]) -> tuple[DatasetSnapshot, ...]:
        """Opened resources; the md5 comes from the stored name (``_resources/train_<md5>.csv``)."""
        found = []
        for entry in resources:
            if not (isinstance(entry, list | tuple) and len(entry) == 2):
                continue
            original, stored = str(entry[0]), Path(str(entry[1])).name
            match = _STORED.search(stored)
            found.append(DatasetSnapshot(
                name=Path(original).name,
                checksum=Checksum("md5", match.group(1)) if match else None,
                location=original,
                context="resource",
            ))
        return tuple(sorted(found, key=lambda d: (d.name, d.location or "")))

    def _artifacts(self, root: Path, folder: Path, names: list[Any]) -> tuple[Artifact, ...]:
        artifacts = []
        for name in sorted(str(n) for n in names):
            path = inside(folder, name)  # refuses "..", absolute names and symlinks leaving the run folder
            size = path.stat().st_size if path.is_file() else None
            artifacts.append(Artifact(name, is_model=False, size=size, location=path.relative_to(root).as_posix()))
        return tuple(artifacts)
