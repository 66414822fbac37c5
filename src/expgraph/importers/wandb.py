"""Weights & Biases offline runs: replay each run's ``.wandb`` transaction log (see ``wandb_log``).

SDK 0.31 writes no ``config.yaml`` / ``wandb-summary.json`` / ``wandb-metadata.json`` offline, so the log is
the source of truth; those files of older SDKs (0.16) are read where they exist, to fill what a log lacks. A
W&B project is the project; its run group (or the project itself) is the experiment. Several directories with
the same run id are one resumed run, merged in time order. Status comes from the exit record only: 0 → finished,
non-zero → failed, none → running (as W&B shows it: a killed process, a torn log, or a run still going); the newest
history row is its last sign of life, from which the mapper infers "presumed dead". An empty or missing log →
unknown.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from expgraph.importers.base import (
    Importer,
    Record,
    SourceError,
    expect,
    flatten,
    load_yaml,
    malformed_as_source_error,
    parse_json,
)
from expgraph.importers.series import summarise_steps
from expgraph.importers.wandb_log import replay
from expgraph.records import (
    Agent,
    Artifact,
    Checksum,
    CodeVersion,
    DatasetSnapshot,
    Environment,
    Experiment,
    MetricValue,
    ParameterSetting,
    Project,
    Run,
    RunStatus,
)

RUN_DIR = re.compile(r"^(?:offline-)?run-\d{8}_\d{6}-(?P<id>[A-Za-z0-9_-]+)$")
#: Lines of console output kept as the error text of a failed run (the traceback is at the end).
ERROR_LINES = 30


@dataclass
class _State:
    """What the records of one run (all its resumed segments) add up to."""

    run_id: str
    name: str | None = None
    project: str | None = None
    entity: str | None = None
    group: str | None = None
    job_type: str | None = None
    notes: str | None = None
    tags: tuple[str, ...] = ()
    host: str | None = None
    started: datetime | None = None
    segment_started: datetime | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: dict[str, dict[int, tuple[float, datetime | None]]] = field(default_factory=dict)
    runtime: float | None = None
    exit_code: int | None = None
    exited: bool = False
    commit: str | None = None
    remote: str | None = None
    python: str | None = None
    os: str | None = None
    username: str | None = None
    packages: tuple[str, ...] = ()
    datasets: dict[str, DatasetSnapshot] = field(default_factory=dict)
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    output: list[str] = field(default_factory=list)
    logged: bool = False  # a .wandb log with records was read (else only SDK 0.16 files, or nothing)
    last_seen: datetime | None = None  # the newest history row's time


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _key(item: Any) -> list[str]:
    return list(item.nested_key) if item.nested_key else [item.key]


def _set(target: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[path[-1]] = value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if value in ("NaN", "Infinity", "-Infinity"):
            return float(value)
        return None
    return float(value)


def _time(stamp: Any) -> datetime | None:
    if not stamp.seconds and not stamp.nanos:
        return None
    return datetime.fromtimestamp(stamp.seconds + stamp.nanos / 1e9, UTC)


def _md5_hex(b64: str) -> str | None:
    import base64
    import binascii

    try:
        return base64.b64decode(b64, validate=True).hex()
    except (binascii.Error, ValueError):
        return None


class _Replayer:
    """Applies one segment's records to the run state."""

    def __init__(self, state: _State) -> None:
        self.state = state

    def apply(self, record: Any) -> None:
        kind = record.WhichOneof("record_type")
        handler = getattr(self, f"on_{kind}", None)
        if handler is not None:
            handler(getattr(record, kind))

    def on_run(self, run: Any) -> None:
        s = self.state
        s.name = run.display_name or s.name
        s.project = run.project or s.project
        s.entity = run.entity or s.entity
        s.group = run.run_group or s.group
        s.job_type = run.job_type or s.job_type
        s.notes = run.notes or s.notes
        s.tags = tuple(run.tags) or s.tags
        s.host = run.host or s.host
        started = _time(run.start_time)
        s.segment_started = started
        s.started = s.started or started
        if run.git.commit:
            s.commit, s.remote = run.git.commit, run.git.remote_url or s.remote
        self.on_config(run.config)

    def on_config(self, config: Any) -> None:
        for item in config.update:
            _set(self.state.config, _key(item), _json(item.value_json))
        for item in config.remove:
            path = _key(item)
            parent = self.state.config
            for part in path[:-1]:
                parent = parent.get(part, {})
            if isinstance(parent, dict):
                parent.pop(path[-1], None)

    def on_summary(self, summary: Any) -> None:
        for item in summary.update:
            _set(self.state.summary, _key(item), _json(item.value_json))
        for item in summary.remove:
            self.state.summary.pop(_key(item)[0], None)

    def on_history(self, history: Any) -> None:
        row = {".".join(_key(item)): _json(item.value_json) for item in history.item}
        step = int(history.step.num) if history.HasField("step") else int(row.get("_step", 0))
        stamp = _number(row.get("_timestamp"))
        when = datetime.fromtimestamp(stamp, UTC) if stamp is not None and math.isfinite(stamp) else None
        if when is not None and (self.state.last_seen is None or when > self.state.last_seen):
            self.state.last_seen = when
        for key, value in row.items():
            number = _number(value)
            if key.startswith("_") or number is None:
                continue
            self.state.history.setdefault(key, {})[step] = (number, when)
        runtime = _number(row.get("_runtime"))
        if runtime is not None:
            self.state.runtime = runtime

    def on_environment(self, env: Any) -> None:
        s = self.state
        s.python = env.python.removeprefix("CPython ").strip() or s.python
        s.os = env.os or s.os
        s.host = env.host or s.host
        s.username = env.username or env.email or s.username
        if env.git.commit:
            s.commit, s.remote = env.git.commit, env.git.remote_url or s.remote

    def on_artifact(self, artifact: Any) -> None:
        digest = artifact.digest or None
        checksum = Checksum("md5", digest) if digest else None
        if artifact.type == "dataset":
            self.state.datasets[artifact.name] = DatasetSnapshot(
                name=artifact.name, checksum=checksum, version=digest, context="logged artifact"
            )
            return
        contents = list(artifact.manifest.contents)
        size = sum(entry.size for entry in contents) if contents else None
        if len(contents) == 1 and _md5_hex(contents[0].digest):  # one file: its own md5 is the better checksum
            checksum = Checksum("md5", _md5_hex(contents[0].digest) or "")
        self.state.artifacts[artifact.name] = Artifact(
            path=artifact.name, is_model=artifact.type == "model", checksum=checksum, size=size,
            location=f"wandb-artifact:{artifact.type}/{artifact.name}",
        )

    def on_use_artifact(self, use: Any) -> None:
        name = use.name or use.id
        if name and name not in self.state.datasets:
            self.state.datasets[name] = DatasetSnapshot(name=name, version=use.id or None, context=use.type or None)

    def on_exit(self, exit_record: Any) -> None:
        self.state.exited = True
        self.state.exit_code = int(exit_record.exit_code)
        if exit_record.runtime:
            self.state.runtime = float(exit_record.runtime)

    def on_output_raw(self, output: Any) -> None:
        if output.line:
            self.state.output.append(output.line)
            del self.state.output[:-ERROR_LINES]

    on_output = on_output_raw


class WandbImporter(Importer):
    """Import Weights & Biases offline runs (a wandb/ folder of offline-run-* / run-* directories)."""

    tracker = "wandb"
    source_help = "A wandb/ directory (or its parent, or one run directory) of offline-run-* / run-* folders."

    def run_dirs(self) -> dict[str, list[Path]]:
        """Run directories by run id, in time order (the name carries the start time)."""
        root = self.source_dir()
        if RUN_DIR.match(root.name):
            candidates = [root]
        else:
            base = root / "wandb" if (root / "wandb").is_dir() and not any(RUN_DIR.match(p.name) for p in
                                                                           root.iterdir()) else root
            candidates = sorted(p for p in base.iterdir() if p.is_dir() and RUN_DIR.match(p.name) and
                                self.guard.check(p) is not None)
        if not candidates:
            raise SourceError(root, "no W&B run directories (offline-run-* or run-*) here or in ./wandb")
        runs: dict[str, list[Path]] = {}
        for path in candidates:
            runs.setdefault(RUN_DIR.match(path.name)["id"], []).append(path)  # type: ignore[index]
        return {run_id: sorted(paths, key=lambda p: p.name.removeprefix("offline-")) for run_id, paths in
                runs.items()}

    def _read(self, path: Path) -> bytes | None:
        """A file of a run directory, or None when there is none (or it links outside the source: warned)."""
        return self.guard.read_bytes(path) if path.is_file() else None

    def records(self) -> Iterator[Record]:
        by_id = self.run_dirs()
        for done, (run_id, paths) in enumerate(sorted(by_id.items()), 1):
            try:
                with malformed_as_source_error(paths[-1]):
                    state = self.read_run(run_id, paths)
                    project = state.project or "uncategorized"
                    experiment = f"{project}/{state.group}" if state.group else project
                    run = self.to_run(state, experiment)
            except SourceError as error:
                self.collector.invalid(error)
                continue
            yield Project(project)
            yield Experiment(native_id=experiment, name=state.group or project, project=project)
            yield run
            self.progress(done, len(by_id))

    def read_run(self, run_id: str, paths: list[Path]) -> _State:
        state = _State(run_id)
        replayer = _Replayer(state)
        for path in paths:
            logs = [(log, data) for log in sorted(path.glob("*.wandb")) if (data := self._read(log)) is not None]
            state.exited, state.exit_code = False, None  # a later segment reopens the run
            for log, data in logs:
                result = replay(log, data)
                if result.torn:
                    self.collector.warn(f"{log}: torn tail ({result.torn}); kept the complete records before it")
                for record in result.records:
                    replayer.apply(record)
                state.logged = state.logged or bool(result.records)
            self.read_old_layout(path, state, replayed=bool(logs))
        if not state.logged:
            self.collector.warn(f"{paths[-1]}: no records in a .wandb log; status unknown")
        elif not state.exited:
            self.collector.warn(f"{paths[-1]}: no exit record (killed, or still running); status running")
        return state

    def read_old_layout(self, path: Path, state: _State, *, replayed: bool) -> None:
        """SDK 0.16 files: fill what the log did not say (and everything when there is no log)."""
        files = path / "files"
        if (requirements := self._read(files / "requirements.txt")) is not None:
            lines = requirements.decode("utf-8", errors="replace").splitlines()
            state.packages = tuple(sorted(line.strip() for line in lines if "==" in line))
        config = files / "config.yaml"
        if not state.config and (text := self._read(config)) is not None:
            data = load_yaml(config, text.decode("utf-8", errors="replace")) or {}
            if not isinstance(data, dict):
                raise SourceError(config, "expected a mapping of config keys")
            for key, entry in data.items():
                if key != "wandb_version":
                    state.config[str(key)] = entry.get("value") if isinstance(entry, dict) else entry
        summary = files / "wandb-summary.json"
        if not state.summary and (text := self._read(summary)) is not None:
            state.summary.update(self._json_object(summary, text))
        metadata = files / "wandb-metadata.json"
        if (text := self._read(metadata)) is not None:
            meta = self._json_object(metadata, text)
            git = expect(meta.get("git"), dict, metadata, "'git'") or {}
            state.commit = state.commit or git.get("commit")
            state.remote = state.remote or git.get("remote")
            state.python = state.python or meta.get("python")
            state.os = state.os or meta.get("os")
            state.host = state.host or meta.get("host")
            state.username = state.username or meta.get("username") or meta.get("email")
            if not state.started and meta.get("startedAt"):
                state.started = datetime.fromisoformat(str(meta["startedAt"])).replace(tzinfo=UTC)
        if not replayed and isinstance(state.summary.get("_wandb"), dict):
            state.runtime = _number(state.summary["_wandb"].get("runtime"))

    @staticmethod
    def _json_object(path: Path, data: bytes) -> dict[str, Any]:
        return expect(parse_json(path, data), dict, path, "the file") or {}

    def to_run(self, state: _State, experiment: str) -> Run:
        if state.exited:
            status = RunStatus.FINISHED if state.exit_code == 0 else RunStatus.FAILED
        else:
            status = RunStatus.RUNNING if state.logged else RunStatus.UNKNOWN
        params = []
        for key, value in flatten({k: v for k, v in state.config.items() if k != "_wandb"}):
            if value is None:
                continue
            if isinstance(value, list | dict):
                text = json.dumps(value, ensure_ascii=False)
                params.append(ParameterSetting(key, text, original=text))
            else:
                params.append(ParameterSetting(key, value))
        ended = None
        anchor = state.segment_started or state.started
        if anchor and state.runtime is not None and state.exited:
            ended = anchor + timedelta(seconds=state.runtime)
        tags = {"wandb.tags": ", ".join(state.tags)} if state.tags else {}
        tags |= {f"wandb.{k}": v for k, v in [("job_type", state.job_type), ("entity", state.entity)] if v}
        failed = status is RunStatus.FAILED and state.output
        return Run(
            native_id=state.run_id,
            experiment_id=experiment,
            status=status,
            name=state.name,
            started=state.started,
            ended=ended,
            agent=Agent(state.username) if state.username else None,
            params=tuple(params),
            metrics=self.metrics(state),
            datasets=tuple(state.datasets.values()),
            code=CodeVersion(state.commit, repository=state.remote) if state.commit else None,
            environment=Environment(python_version=state.python, packages=state.packages, hostname=state.host,
                                    operating_system=state.os) if state.python or state.host else None,
            artifacts=tuple(state.artifacts.values()),
            tags=tags,
            description=state.notes,
            error_text="".join(state.output).strip() if failed else None,
            exit_code=state.exit_code if state.exited else None,
            runtime_seconds=state.runtime,
            last_seen=state.last_seen,
        )

    @staticmethod
    def metrics(state: _State) -> tuple[MetricValue, ...]:
        """History metrics (final value from the summary when it has one), then summary-only numbers."""
        summary = {key: _number(value) for key, value in flatten(state.summary) if not key.startswith("_")}
        metrics = []
        for key, points in sorted(state.history.items()):
            metrics.append(summarise_steps(key, points, summary.get(key)))
        for key, value in sorted(summary.items()):
            if key not in state.history and value is not None:
                metrics.append(MetricValue(key=key, value=value))
        return tuple(metrics)
