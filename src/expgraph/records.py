"""Plain records of the domain: what importers produce and the mapper consumes.

Importers know one tracker and nothing of RDF; they fill these frozen dataclasses. Native ids are the tracker's
own strings; the mapper turns them into IRIs. Times are timezone-aware (naive times are taken as UTC).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

#: A parameter value as the tracker gave it, typed where the type is certain.
Scalar = str | int | float | bool


class RunStatus(enum.StrEnum):
    """Run status; the values are the ``skos:notation`` of the run-status vocabulary."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"
    UNKNOWN = "unknown"

    @property
    def is_failure(self) -> bool:
        """Failed and killed runs yield a negative result."""
        return self in (RunStatus.FAILED, RunStatus.KILLED)


#: The notations of the statuses that are failures (:attr:`RunStatus.is_failure`), for queries and pages.
FAILURE_STATUSES: tuple[str, ...] = tuple(status.value for status in RunStatus if status.is_failure)


@dataclass(frozen=True)
class Agent:
    """A person or service account that ran something."""

    name: str


@dataclass(frozen=True)
class Project:
    """A research project; shared across trackers by name."""

    name: str
    title: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Hypothesis:
    text: str
    expected_outcome: str | None = None


@dataclass(frozen=True)
class Experiment:
    native_id: str
    name: str
    project: str | None = None
    description: str | None = None
    research_question: str | None = None
    method: str | None = None
    hypothesis: Hypothesis | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParameterSetting:
    """One hyperparameter; ``original`` keeps the tracker's string when typing could lose information."""

    key: str
    value: Scalar
    original: str | None = None


@dataclass(frozen=True)
class MetricHistory:
    """A compact summary of every value logged for one metric."""

    first: float
    minimum: float
    maximum: float
    count: int


@dataclass(frozen=True)
class MetricValue:
    """The final value of a metric (the tracker's notion of "latest"), with its step and history summary."""

    key: str
    value: float
    step: int | None = None
    timestamp: datetime | None = None
    history: MetricHistory | None = None


@dataclass(frozen=True)
class Checksum:
    algorithm: str  # "md5", "sha1", "sha256", ...
    value: str


@dataclass(frozen=True)
class DatasetSnapshot:
    """A concrete version of a dataset as a run used it; ``name`` names the abstract dataset (series)."""

    name: str
    checksum: Checksum | None = None
    version: str | None = None
    location: str | None = None
    context: str | None = None  # the role in the run: "training", "eval", ...


@dataclass(frozen=True)
class CodeVersion:
    commit: str
    repository: str | None = None
    dirty: bool | None = None
    branch: str | None = None
    diff_digest: str | None = None  # sha256 over the uncommitted changes (untracked files included), when dirty
    checkout: str | None = None  # the local working tree it was read from, where ``expgraph audit`` looks for it


@dataclass(frozen=True)
class Environment:
    python_version: str | None = None
    packages: tuple[str, ...] = ()  # "name==version"
    container_image: str | None = None
    hostname: str | None = None
    operating_system: str | None = None
    executable: str | None = None
    cpu: str | None = None
    gpu: str | None = None  # name and driver, as nvidia-smi reports them
    lock_files: tuple[Artifact, ...] = ()  # uv.lock, poetry.lock, requirements*.txt, ... with their checksums


@dataclass(frozen=True)
class SourceRef:
    """An import source by tracker and identity. A run captured at launch that also logged to a tracker names the
    tracker's source here, with the tracker's native run and experiment ids: the mapper then mints the tracker's
    IRI for it, so the capture and a later import describe one run node. The tracker keeps the run's status,
    name and times; the capture adds its provenance and how the process ended."""

    tracker: str
    source: str


@dataclass(frozen=True)
class Artifact:
    path: str
    is_model: bool = False
    checksum: Checksum | None = None
    size: int | None = None
    location: str | None = None


@dataclass(frozen=True)
class Run:
    native_id: str
    experiment_id: str
    status: RunStatus
    name: str | None = None
    started: datetime | None = None
    ended: datetime | None = None
    agent: Agent | None = None
    parent_id: str | None = None
    params: tuple[ParameterSetting, ...] = ()
    metrics: tuple[MetricValue, ...] = ()
    datasets: tuple[DatasetSnapshot, ...] = ()
    code: CodeVersion | None = None
    environment: Environment | None = None
    artifacts: tuple[Artifact, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    error_text: str | None = None
    exit_code: int | None = None
    runtime_seconds: float | None = None
    seed: int | None = None
    deleted: bool = False
    #: The last sign of life the tracker recorded (a heartbeat, the newest metric value, a log's modification
    #: time): what tells a run that is still running from one whose process died without a word.
    last_seen: datetime | None = None
    command: str | None = None  # the command line a captured run executed
    signal: str | None = None  # the signal that ended it ("SIGKILL")
    peak_memory: int | None = None  # peak resident memory in bytes
    outputs: tuple[DatasetSnapshot, ...] = ()  # snapshots the run wrote (``prov:generated``)
    minted_in: SourceRef | None = None  # another source that mints this run's IRI (see SourceRef)


#: How long a run its tracker still calls running may go without a sign of life before it is presumed dead.
PRESUMED_DEAD_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Liveness:
    """When a run is presumed dead: its tracker still says running, and its last sign of life (or its start, when
    the tracker records none) is older than ``after`` at ``now``, the time of the import. Trackers leave a run
    running forever when its process is killed outright (the OOM killer, SIGKILL, a lost machine)."""

    now: datetime
    after: timedelta = PRESUMED_DEAD_AFTER

    def last_sign(self, run: Run) -> datetime | None:
        return max((t for t in (run.last_seen, run.started) if t is not None), default=None)

    def presumed_dead(self, run: Run) -> bool:
        last = self.last_sign(run)
        return run.status is RunStatus.RUNNING and last is not None and self.now - last > self.after


@dataclass(frozen=True)
class RunRef:
    """A run in another import source, named by tracker and native id (for hand-written records)."""

    tracker: str
    native_id: str


@dataclass(frozen=True)
class Result:
    """An outcome: what runs of an experiment showed. ``negative`` marks an ``eg:NegativeResult``.

    ``kind``, ``failure_mode`` and ``suspected_cause`` are notations of the shipped vocabularies, or full IRIs of
    a project's own concepts.
    """

    native_id: str
    kind: str
    negative: bool = False
    title: str | None = None
    description: str | None = None
    runs: tuple[str, ...] = ()  # native ids of runs in the same source
    run_refs: tuple[RunRef, ...] = ()  # runs in other sources
    experiment_id: str | None = None
    hypothesis: Hypothesis | None = None
    expected_outcome: str | None = None
    observed_outcome: str | None = None
    deviations: tuple[str, ...] = ()
    failure_mode: str | None = None
    suspected_cause: str | None = None
    lessons: tuple[str, ...] = ()
    error_text: str | None = None
    informs: tuple[str, ...] = ()  # IRIs or experiment native ids of later experiments


@dataclass(frozen=True)
class Concept:
    """A project's own term in a shipped scheme (``failure-mode``, ``suspected-cause``), minted under the project.

    Results refer to it by ``notation``; ``broader`` is a notation of ours or an IRI.
    """

    scheme: str
    notation: str
    project: str
    label: str
    broader: str | None = None


@dataclass(frozen=True)
class ImportBatch:
    """Everything one import source holds. ``source`` is the identity the IRIs are derived from."""

    tracker: str
    source: str
    projects: tuple[Project, ...] = ()
    experiments: tuple[Experiment, ...] = ()
    runs: tuple[Run, ...] = ()
    results: tuple[Result, ...] = ()
    warnings: tuple[str, ...] = ()
    concepts: tuple[Concept, ...] = ()
    liveness: Liveness | None = None  # how the mapper judges runs still running; None: it does not
    part: str | None = None  # a source written in parts (captured runs: one per run), each in a graph of its own
