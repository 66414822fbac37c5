"""TensorBoard log directories, read with the ``tensorboard`` package's own record reader (no TensorFlow).

A run is the topmost directory holding event files; everything below it belongs to it: the child directory
``add_hparams`` writes (its hparams and metric values), the ``add_scalars`` sub-directories (``losses/train``)
and any other nested writer (keys prefixed with the sub-path). Several event files in one directory are one
resumed run, merged by step in time order (the later write wins). Scalars are float32 on disk: they are read
back as the shortest decimal that round-trips in float32 (0.1, not 0.10000000149). Status comes from the hparams
session (SUCCESS/FAILURE/RUNNING → finished/failed/running); without one it is unknown. A finished or
failed session without an end time ended at its last event. Text summaries are kept
as tags; a ``git_commit`` text is the code version. A truncated last record is a warning.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from expgraph.importers.base import Importer, Record, SourceError, malformed_as_source_error, require
from expgraph.importers.series import summarise_steps
from expgraph.records import CodeVersion, Experiment, ParameterSetting, Run, RunStatus

EVENT_FILE = "events.out.tfevents."
STATUS = {
    "STATUS_SUCCESS": RunStatus.FINISHED,
    "STATUS_FAILURE": RunStatus.FAILED,
    "STATUS_RUNNING": RunStatus.RUNNING,
}
TEXT_SUFFIX = "/text_summary"


@dataclass
class _RunData:
    """Everything read for one run directory (and its descendants)."""

    scalars: dict[str, dict[int, tuple[float, datetime | None]]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    hparams: dict[str, Any] = field(default_factory=dict)
    metric_infos: list[str] = field(default_factory=list)
    status: str | None = None
    session_start: float | None = None
    session_end: float | None = None
    first_time: float | None = None
    last_time: float | None = None


def _float32(value: float) -> float:
    """The shortest decimal that is the same float32 (what the script logged, before float32 rounding)."""
    import numpy

    return float(str(numpy.float32(value))) if math.isfinite(value) else float(value)


def _setting(key: str, value: Any) -> ParameterSetting:
    """hparams numbers are all doubles: 32.0 was most likely the integer 32 (the double is kept as original)."""
    if isinstance(value, float) and value.is_integer():
        return ParameterSetting(key, int(value), original=repr(value))
    return ParameterSetting(key, value)


def _is_last_record(path: Path, offset: int) -> bool:
    """Whether the bad record at ``offset`` is the file's last one (a torn tail, not corruption)."""
    with path.open("rb") as handle:
        handle.seek(offset)
        header = handle.read(8)
        size = path.stat().st_size
    if len(header) < 8:
        return True
    return offset + 16 + int.from_bytes(header, "little") >= size


class _Reader:
    """Reads event files with tensorboard's pure-Python record reader and protos."""

    def __init__(self) -> None:
        require("tensorboard", "tensorboard")
        from tensorboard.compat.proto import event_pb2
        from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow
        from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2
        from tensorboard.util import tensor_util

        self.event_pb2, self.errors, self.pywrap = event_pb2, errors, pywrap_tensorflow
        self.api_pb2, self.plugin_data_pb2, self.tensor_util = api_pb2, plugin_data_pb2, tensor_util

    def events(self, path: Path, warn) -> Iterator[Any]:
        reader = self.pywrap.PyRecordReader_New(str(path).encode(), 0, None, None)
        consumed = 0  # bytes of complete records: a record is length (8), crc (4), data, crc (4)
        while True:
            try:
                reader.GetNext()
            except self.errors.OutOfRangeError:
                return
            except self.errors.DataLossError as error:
                if consumed == 0 and path.stat().st_size >= 12:  # a whole first header: not torn, not ours
                    raise SourceError(path, "not a TensorBoard event file (its first record fails its "
                                            "checksum)") from None
                if _is_last_record(path, consumed):
                    warn(f"{path}: truncated last record ({error.message}); kept the records before it")
                    return
                raise SourceError(path, f"corrupt event record after byte {consumed}: {error.message}") from None
            consumed += len(reader.record()) + 16
            try:
                yield self.event_pb2.Event.FromString(reader.record())
            except Exception as error:  # protobuf's DecodeError
                raise SourceError(path, f"not a TensorBoard event record: {error}") from None

    def value(self, value: Any) -> float | str | None:
        """A summary value as a float (scalars) or text (text plugin); None for anything else."""
        kind = value.WhichOneof("value")
        if kind == "simple_value":
            return _float32(value.simple_value)
        if kind != "tensor":
            return None
        plugin = value.metadata.plugin_data.plugin_name
        array = self.tensor_util.make_ndarray(value.tensor)
        if plugin == "text" or array.dtype.kind in "OSU":
            flat = array.reshape(-1)
            items = [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in flat]
            return "\n".join(items)
        if array.size != 1 or array.dtype.kind not in "fiu":
            return None
        number = float(array.reshape(-1)[0])
        return _float32(number) if array.dtype.itemsize == 4 and array.dtype.kind == "f" else number

    def hparams(self, value: Any, data: _RunData) -> None:
        content = self.plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
        which = content.WhichOneof("data")
        if which == "session_start_info":
            info = content.session_start_info
            for key, hp in info.hparams.items():
                kind = hp.WhichOneof("kind")
                if kind in ("number_value", "string_value", "bool_value"):
                    data.hparams[key] = getattr(hp, kind)
            data.session_start = info.start_time_secs or data.session_start
        elif which == "session_end_info":
            data.status = self.api_pb2.Status.Name(content.session_end_info.status)
            data.session_end = content.session_end_info.end_time_secs or data.session_end
        elif which == "experiment":
            data.metric_infos = [info.name.tag for info in content.experiment.metric_infos]


class TensorBoardImporter(Importer):
    """Import TensorBoard runs (a log directory of event files; no TensorFlow needed)."""

    tracker = "tensorboard"
    source_help = "A TensorBoard log directory (one run per directory of event files)."

    def run_dirs(self, root: Path) -> dict[Path, dict[Path, list[Path]]]:
        """Event files grouped by their run (the topmost directory with event files above them), then by their
        directory. Only files the path guard lets through are listed, so only those are ever read."""
        files: dict[Path, list[Path]] = {}
        for path in sorted(root.rglob(f"{EVENT_FILE}*")):
            if path.is_file() and self.guard.check(path) is not None:
                files.setdefault(path.parent, []).append(path)
        runs: dict[Path, dict[Path, list[Path]]] = {}
        for directory in sorted(files):
            owner = next((run for run in runs if run == directory or run in directory.parents), directory)
            runs.setdefault(owner, {})[directory] = files[directory]
        if not runs:
            raise SourceError(root, f"no TensorBoard event files ({EVENT_FILE}*) in this directory")
        return runs

    def records(self) -> Iterator[Record]:
        root = self.source_dir()
        reader = _Reader()
        runs = self.run_dirs(root)
        for done, (run_dir, files) in enumerate(runs.items(), 1):
            experiment = run_dir.parent.relative_to(root).as_posix() if run_dir != root else "."
            try:
                with malformed_as_source_error(run_dir):
                    run = self.to_run(self.read_run(reader, run_dir, files), run_dir, root, experiment)
            except SourceError as error:
                self.collector.invalid(error)
                continue
            yield Experiment(native_id=experiment, name=root.name if experiment == "." else experiment)
            yield run
            self.progress(done, len(runs))

    def read_run(self, reader: _Reader, run_dir: Path, files: dict[Path, list[Path]]) -> _RunData:
        """One run from its event files (by directory, as :meth:`run_dirs` found and checked them)."""
        data = _RunData()
        for directory, paths in files.items():
            loaded = []
            for path in paths:
                events = list(reader.events(path, self.collector.warn))
                loaded.append((events[0].wall_time if events else math.inf, path.name, events))
            for _, _, events in sorted(loaded, key=lambda item: item[:2]):  # older sessions first
                self.read_events(reader, data, events, directory.relative_to(run_dir).as_posix())
        return data

    def read_events(self, reader: _Reader, data: _RunData, events: list[Any], sub: str) -> None:
        is_hparams_dir = any(value.metadata.plugin_data.plugin_name == "hparams"
                             for event in events for value in event.summary.value)
        for event in events:
            if event.wall_time:
                data.first_time = min(data.first_time or math.inf, event.wall_time)
                data.last_time = max(data.last_time or 0.0, event.wall_time)
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "hparams":
                    reader.hparams(value, data)
                    continue
                parsed = reader.value(value)
                if isinstance(parsed, str):
                    data.texts[value.tag.removesuffix(TEXT_SUFFIX)] = parsed
                elif parsed is not None:
                    key = self.metric_key(value.tag, sub, is_hparams_dir)
                    when = datetime.fromtimestamp(event.wall_time, UTC) if event.wall_time else None
                    data.scalars.setdefault(key, {})[int(event.step)] = (parsed, when)

    @staticmethod
    def metric_key(tag: str, sub: str, is_hparams_dir: bool) -> str:
        """``loss`` in the run; ``losses/train`` for add_scalars; ``eval/loss`` for another nested writer."""
        if sub == "." or is_hparams_dir:
            return tag
        for prefix in (f"{tag}/", f"{tag.replace('/', '_')}_"):
            if sub.startswith(prefix):
                return f"{tag}/{sub.removeprefix(prefix)}"
        return f"{sub}/{tag}"

    def to_run(self, data: _RunData, run_dir: Path, root: Path, experiment: str) -> Run:
        native_id = run_dir.relative_to(root).as_posix() if run_dir != root else root.name
        status = STATUS.get(data.status or "", RunStatus.UNKNOWN)
        started_secs = data.session_start or data.first_time
        started = datetime.fromtimestamp(started_secs, UTC) if started_secs else None
        # a session that ended without an end time (tensorboardX writes none) ended at its last event
        ended_secs = (data.session_end or data.last_time) if status in (RunStatus.FINISHED, RunStatus.FAILED) else None
        ended = datetime.fromtimestamp(ended_secs, UTC) if ended_secs else None
        params = tuple(_setting(key, value) for key, value in sorted(data.hparams.items()))
        texts = dict(data.texts)
        commit = texts.pop("git_commit", "").strip()
        tags = {f"text.{key}": value for key, value in sorted(texts.items())}
        if data.metric_infos:
            tags["hparams.metrics"] = ", ".join(data.metric_infos)
        metrics = tuple(summarise_steps(key, points) for key, points in sorted(data.scalars.items()))
        return Run(
            native_id=native_id,
            experiment_id=experiment,
            status=status,
            name=run_dir.name,
            started=started,
            ended=ended,
            params=params,
            metrics=metrics,
            code=CodeVersion(commit) if commit else None,
            tags=tags,
            description=texts.get("notes"),
            runtime_seconds=(ended - started).total_seconds() if started and ended else None,
            last_seen=datetime.fromtimestamp(data.last_time, UTC) if data.last_time else None,  # newest event
        )
