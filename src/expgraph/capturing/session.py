"""One captured run from launch to catalog: what is known before it starts (code, inputs, environment), how it
ended, the tracker run it may also have logged to, and writing it (or spooling it when the store cannot be
reached). Both ``expgraph record`` and ``expgraph.capture()`` go through here.

A captured run is plain records (``Project``, ``Experiment``, ``Run``) that go through the importers' path:
``build_batch`` adds the negative result of a failed or killed run, the mapper mints the same IRIs for the shared
nodes (code versions, dataset snapshots by checksum, environments by digest), ``store_batch`` writes it. All
captures are one import source (``urn:expgraph:capture``, so runs of one experiment share its node), written in
parts: each run is its own graph, replaced atomically, so writing it twice changes nothing.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import shlex
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from expgraph.capturing import spool
from expgraph.capturing.environment import capture_environment
from expgraph.capturing.git import code_version
from expgraph.capturing.hashing import HashCache, default_cache_path
from expgraph.capturing.process import Outcome
from expgraph.capturing.trackers import mlflow_context, mlflow_run, wandb_context, wandb_run
from expgraph.failures import FailureClassifier
from expgraph.importers.base import Importer, Record, build_batch, parameter
from expgraph.records import (
    Agent,
    Checksum,
    CodeVersion,
    DatasetSnapshot,
    Environment,
    Experiment,
    ParameterSetting,
    Project,
    Run,
    RunStatus,
)
from expgraph.settings import Settings
from expgraph.store import Store

if TYPE_CHECKING:
    from expgraph.catalog import ImportOutcome

TRACKER = "capture"
SOURCE = "urn:expgraph:capture"
#: The variable naming the captured run's id in the command's environment.
RUN_ID_VARIABLE = "EXPGRAPH_RUN_ID"


@dataclass(frozen=True)
class Ending:
    """How the run ended."""

    ended: datetime
    status: RunStatus
    exit_code: int | None = None
    signal: str | None = None
    error_text: str | None = None
    peak_memory: int | None = None


def ending_of(outcome: Outcome) -> Ending:
    """A command's end as a run's: a signal is ``killed`` (named in the error text too), a non-zero exit
    ``failed`` with the stderr tail as its error text."""
    if outcome.signal:
        text = f"{outcome.stderr_tail}\n[ended by {outcome.signal}]".lstrip()
        return Ending(outcome.ended, RunStatus.KILLED, None, outcome.signal, text, outcome.peak_memory)
    if outcome.exit_code:
        return Ending(outcome.ended, RunStatus.FAILED, outcome.exit_code, None, outcome.stderr_tail,
                      outcome.peak_memory)
    return Ending(outcome.ended, RunStatus.FINISHED, outcome.exit_code, peak_memory=outcome.peak_memory)


@dataclass
class Launch:
    """What is known when the run starts."""

    run_id: str
    experiment: str
    project: str | None
    cwd: Path
    started: datetime
    command: str | None
    params: tuple[ParameterSetting, ...]
    inputs: tuple[DatasetSnapshot, ...]
    code: CodeVersion | None
    environment: Environment
    hashes: HashCache = field(repr=False)

    def environ(self, base: Mapping[str, str]) -> dict[str, str]:
        """The command's environment: ours, plus the run id, an MLflow run context that tags every MLflow run
        the command starts with it, and W&B's run id (see ``trackers``)."""
        env = dict(base)
        env[RUN_ID_VARIABLE] = self.run_id
        env.update(mlflow_context(self.run_id, base))
        env.update(wandb_context(self.run_id, base))
        return env


def hash_cache(settings: Settings) -> HashCache:
    return HashCache(Path(settings.hash_cache).expanduser() if settings.hash_cache else default_cache_path())


def spool_dir(settings: Settings) -> Path:
    return Path(settings.spool).expanduser() if settings.spool else spool.default_spool()


def snapshot(path: Path, hashes: HashCache, context: str | None = None) -> DatasetSnapshot:
    """A file or directory as a dataset snapshot: named by its file name, identified by its SHA-256, so a run that
    reads what another wrote meets it on one node."""
    path = path.expanduser()
    if not path.exists():
        raise ValueError(f"{path}: no such file or directory")
    digest, _ = hashes.digest(path)
    return DatasetSnapshot(name=path.resolve().name, checksum=Checksum("sha256", digest),
                           location=str(path.resolve()), context=context)


def begin(*, inputs: Sequence[str | os.PathLike[str]] = (), params: Mapping[str, object] | None = None,
          project: str | None = None, experiment: str | None = None, argv: Sequence[str] | None = None,
          interpreter: str | None = None, cwd: Path | None = None, hashes: HashCache) -> Launch:
    """Read the code, hash the inputs and describe the environment, before the run starts."""
    cwd = (cwd or Path.cwd()).resolve()
    code = code_version(cwd, hashes)
    folders = [cwd] + ([Path(code.checkout)] if code and code.checkout and Path(code.checkout) != cwd else [])
    return Launch(
        run_id=uuid.uuid4().hex,
        experiment=experiment or Path(code.checkout if code and code.checkout else cwd).name,
        project=project,
        cwd=cwd,
        started=datetime.now(UTC),
        command=shlex.join(argv) if argv else None,
        params=tuple(parameter(key, value) for key, value in sorted((params or {}).items())),
        inputs=tuple(snapshot(Path(path), hashes, "input") for path in inputs),
        code=code,
        environment=capture_environment(folders, hashes, interpreter),
        hashes=hashes,
    )


def _user() -> Agent | None:
    try:
        return Agent(getpass.getuser())
    except (KeyError, OSError):
        return None


def finish(launch: Launch, ending: Ending, outputs: Sequence[str | os.PathLike[str]] = ()) -> list[Record]:
    """The run's records, its outputs hashed; a run that also logged to MLflow (or W&B) is that tracker's run."""
    written = [Path(path) for path in outputs if Path(path).expanduser().exists()]  # a failed run may not have
    # written its outputs
    run = Run(
        native_id=launch.run_id,
        experiment_id=launch.experiment,
        status=ending.status,
        name=launch.command,
        started=launch.started,
        ended=ending.ended,
        agent=_user(),
        params=launch.params,
        datasets=launch.inputs,
        code=launch.code,
        environment=launch.environment,
        outputs=tuple(snapshot(path, launch.hashes) for path in written),
        tags={RUN_ID_VARIABLE: launch.run_id},
        error_text=ending.error_text or None,
        exit_code=ending.exit_code,
        runtime_seconds=(ending.ended - launch.started).total_seconds(),
        command=launch.command,
        signal=ending.signal,
        peak_memory=ending.peak_memory,
    )
    items: list[Record] = []
    if launch.project:
        items.append(Project(launch.project))
    linked = mlflow_run(launch.run_id, launch.cwd) or wandb_run(launch.run_id, launch.cwd)
    if linked is not None:
        source, run_id, experiment_id = linked
        run = dataclasses.replace(run, native_id=run_id, experiment_id=experiment_id, minted_in=source)
    else:
        items.append(Experiment(native_id=launch.experiment, name=launch.experiment, project=launch.project))
    items.append(run)
    return items


class CapturedRun(Importer):
    """A run captured at launch, as an importer of its few records (so it takes the importers' path)."""

    tracker = TRACKER

    def __init__(self, items: list[Record]) -> None:
        super().__init__(SOURCE)
        self.items = items

    def identity(self) -> str:
        return SOURCE

    def records(self) -> Iterator[Record]:
        yield from self.items

    @property
    def run_id(self) -> str:
        run = next(item for item in self.items if isinstance(item, Run))
        return run.tags.get(RUN_ID_VARIABLE, run.native_id)


def write(store: Store, items: list[Record], *, base: str) -> ImportOutcome:
    """Write one captured run into its own graph (classifying its failure with the catalog's rules)."""
    from expgraph.catalog import store_batch

    captured = CapturedRun(items)
    batch = dataclasses.replace(build_batch(captured, FailureClassifier.from_store(store)), part=captured.run_id)
    return store_batch(store, batch, location=f"captured run {captured.run_id}", base=base)


@dataclass(frozen=True)
class Saved:
    run_id: str
    spooled: Path | None = None  # where the run waits when the store could not take it
    reason: str | None = None  # why not


def save(items: list[Record], settings: Settings) -> Saved:
    """Write the run to the catalog, or into the spool when the store is busy or unreachable."""
    from expgraph.catalog import prepare
    from expgraph.store import Retention, StoreError, open_store

    run_id = CapturedRun(items).run_id
    try:
        store = open_store(settings.store, endpoint=settings.endpoint or None,
                           retention=Retention(settings.history_keep, settings.history_days))
        try:
            write(prepare(store), items, base=settings.base_iri)
        finally:
            store.close()
    except (StoreError, OSError) as error:
        return Saved(run_id, spool.write(spool_dir(settings), run_id, items), str(error))
    return Saved(run_id)


def flush(store: Store, settings: Settings) -> list[str]:
    """Write every spooled run; each file is removed once its run is in the catalog. Returns the run ids."""
    done = []
    for path in spool.pending(spool_dir(settings)):
        items = spool.read(path)
        write(store, items, base=settings.base_iri)
        path.unlink()
        done.append(path.stem)
    return done
