"""An MLflow file store (``./mlruns``), read in bulk.

MLflow lists the runs and parses each ``meta.yaml`` (so its skip rules apply); the run's params, tags and metric
files are read here directly, through the path guard, each metric file once for the whole history, and each
dataset's ``meta.yaml`` once per import. Runs and experiments the file store skips silently (a malformed
``meta.yaml`` only makes MLflow log a debug line) are noticed and reported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from expgraph.importers.base import SourceError
from expgraph.importers.mlflow import private_api
from expgraph.importers.mlflow.convert import RunData
from expgraph.importers.mlflow.local import LocalReader
from expgraph.importers.series import Point

#: A run's folders this importer reads itself, through the path guard (MLflow's readers get the rest).
_OWN_READS = {"params", "metrics", "tags", "artifacts"}


def metric_points(data: bytes, path: str | os.PathLike[str], run_id: str, key: str, experiment_id: str) -> list[Point]:
    """A file store's metric file (its bytes, read at ``path``), in logging order. The common ``timestamp value
    step`` line is split here; other shapes go through MLflow's own line parser, which also rejects malformed
    lines. No value at all is an error, as in MLflow's ``search_runs``."""
    points: list[Point] = []
    for line in data.decode("utf-8").splitlines():
        parts = line.strip().split(" ")
        if len(parts) == 3:
            points.append(Point(int(parts[2]), int(parts[0]), float(parts[1])))
        elif line.strip():
            points.append(Point(*private_api.metric_from_line(run_id, key, line, experiment_id)))
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


class FileStoreReader(LocalReader):
    """A file store: MLflow's listing of run folders, and the folders' files read directly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Run folders already reported as unreadable (so the completeness check does not list them twice).
        self._unreadable: set[str] = set()
        #: Dataset folders per experiment folder, and the datasets read so far by (folder, id).
        self._dataset_dirs: dict[Path, set[str]] = {}
        self._datasets: dict[tuple[Path, str], Any] = {}

    def check(self, *, all_folders: bool = False) -> None:
        """Before MLflow's own readers see the store: a link leading outside it is an error naming the link, since
        MLflow would follow it. The folders read here are left to the path guard (a warning, the file skipped),
        unless MLflow is to read those too (``all_folders``)."""
        own = set() if all_folders else _OWN_READS
        for link in self.importer.guard.links_leaving(skip=lambda parent, name: name in own and len(parent) == 32):
            raise SourceError(link, f"links outside the store {self.root}; not imported (MLflow would read it)")

    def runs(self, client: Any, experiments: list[Any]) -> list[Any]:
        store = private_api.tracking_store(client)
        if not private_api.file_store(store):  # an MLflow without these private readers
            return super().runs(client, experiments)
        ids = [e.experiment_id for e in experiments]
        found = [self._run(store, info) for i in ids for info in private_api.run_infos(store, i)]
        return sorted(found, key=lambda r: (r.info.start_time or 0, r.info.run_id))

    def recover(self, client: Any, experiments: list[Any], error: Exception, errors: tuple[type, ...]) -> list[Any]:
        """With ``--skip-invalid``, a store ``search_runs`` choked on is read again one run folder at a time."""
        if not self.importer.collector.skip_invalid:
            raise error
        self.importer.collector.warn(f"{self.importer.error(error, self.importer.source, 'search failed')}; "
                                     "reading runs one by one")
        self.check(all_folders=True)  # MLflow reads every file of a run this way
        reserved = private_api.reserved_folders()
        runs = []
        for experiment in sorted(experiments, key=lambda e: e.experiment_id):
            folder = self._experiment_dir(experiment.experiment_id)
            for child in sorted(folder.iterdir()) if folder else ():
                if child.is_dir() and child.name not in reserved:
                    try:
                        runs.append(client.get_run(child.name))
                    except errors as failure:
                        self._unreadable.add(child.name)
                        self.importer.collector.invalid(self.importer.error(failure, str(child), "cannot read the run"))
        return sorted(runs, key=lambda r: (r.info.start_time or 0, r.info.run_id))

    def check_experiments(self, experiments: list[Any]) -> None:
        """An experiment MLflow skipped (bad ``meta.yaml``) is an error, not a silent omission."""
        known = {e.experiment_id for e in experiments}
        for parent in (self.root, self.root / ".trash"):
            for child in sorted(parent.iterdir()) if parent.is_dir() else ():
                # experiment folders are numbered; others (a file registry's models/, .trash) are not experiments
                if child.is_dir() and child.name.isdigit() and child.name not in known:
                    if child.name == "0" and not (child / "meta.yaml").exists():
                        continue
                    self.importer.collector.invalid(SourceError(child / "meta.yaml",
                                                                "MLflow cannot read this experiment"))

    def check_runs(self, experiments: list[Any], runs: list[Any]) -> None:
        """A run folder MLflow skipped is an error too."""
        reserved = private_api.reserved_folders()
        known = {run.info.run_id for run in runs} | self._unreadable
        for experiment in experiments:
            folder = self._experiment_dir(experiment.experiment_id)
            for child in sorted(folder.iterdir()) if folder and folder.is_dir() else ():
                if child.is_dir() and child.name not in reserved and child.name not in known:
                    self.importer.collector.invalid(SourceError(child / "meta.yaml", "MLflow cannot read this run"))

    def _experiment_dir(self, experiment_id: str) -> Path | None:
        for parent in (self.root, self.root / ".trash"):
            if (parent / experiment_id).is_dir():
                return parent / experiment_id
        return None

    def run_path(self, run: Any) -> str:
        return str(self.root / run.info.experiment_id / run.info.run_id)

    def history(self, client: Any, info: Any, key: str) -> list[Point]:
        """The run's folder is known, so its metric file is parsed here: ``get_metric_history`` would first search
        every experiment folder for the run, which makes an import quadratic in the number of runs."""
        folder = self._experiment_dir(info.experiment_id)
        path = folder / info.run_id / "metrics" / key if folder else None
        if path is not None and path.is_file():
            data = self.importer.guard.read_bytes(path)
            return [] if data is None else metric_points(data, path, info.run_id, key, info.experiment_id)
        return super().history(client, info, key)

    def _run(self, store: Any, info: Any) -> RunData:
        """One run from its folder: what ``search_runs`` reads, without its per-file lookups of the run folder, and
        each metric file read once for the whole history."""
        folder = self._experiment_dir(info.experiment_id)
        assert folder is not None  # MLflow just listed the run in it
        run_dir = folder / info.run_id
        metrics = {key: metric_points(data, path, info.run_id, key, info.experiment_id)
                   for key, path, data in self._files(run_dir / "metrics")}
        outputs = private_api.model_output_ids(store, info) if (run_dir / "outputs").is_dir() else []
        return RunData(info, self._texts(run_dir / "params"), self._texts(run_dir / "tags"), metrics,
                       self._datasets_of(run_dir, folder), outputs)

    def _files(self, folder: Path) -> Iterator[tuple[str, str, bytes]]:
        """A run's params/, tags/ or metrics/ folder as (key, path, content), read through the path guard: a file
        linking outside the store is skipped with a warning."""
        for key, path in _keyed_files(folder):
            if (data := self.importer.guard.read_bytes(path)) is not None:
                yield key, path, data

    def _texts(self, folder: Path) -> dict[str, str]:
        """A params/ or tags/ folder: key to the file's text, decoded as MLflow reads it (UTF-8, no newline
        translation)."""
        return {key: data.decode("utf-8") for key, _, data in self._files(folder)}

    def _datasets_of(self, run_dir: Path, experiment_dir: Path) -> list[Any]:
        """A run's dataset inputs, read as MLflow's ``_get_dataset_inputs`` reads them, except that each dataset's
        ``meta.yaml`` is parsed once per import instead of once per run that used it."""
        from mlflow.entities import DatasetInput, InputTag

        inputs_name, datasets_name = private_api.folder_names()
        inputs, datasets = run_dir / inputs_name, experiment_dir / datasets_name
        if not inputs.is_dir() or not datasets.is_dir():
            return []
        if experiment_dir not in self._dataset_dirs:
            self._dataset_dirs[experiment_dir] = set(os.listdir(datasets))
        found = []
        for name in os.listdir(inputs):
            is_dataset, dataset_id, tags = private_api.input_link(inputs / name)
            if not is_dataset:
                continue
            if dataset_id not in self._dataset_dirs[experiment_dir]:  # MLflow skips it with a log line
                self.importer.collector.warn(f"{inputs / name}: dataset {dataset_id} not found, input skipped")
                continue
            if (experiment_dir, dataset_id) not in self._datasets:
                self._datasets[experiment_dir, dataset_id] = private_api.dataset(datasets, dataset_id)
            found.append(DatasetInput(self._datasets[experiment_dir, dataset_id],
                                      [InputTag(key, value) for key, value in tags.items()]))
        return found
