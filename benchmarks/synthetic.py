"""Synthetic catalogs of realistic shape, for benchmarks, load tests and examples of scale.

The generator builds plain records (what an importer would yield), never RDF, so a synthetic catalog goes
through the same mapper and store as a real import. It is deterministic for a seed: the same arguments always
give the same records. What it imitates, because queries and completeness checks need something to find:

- several projects, each with experiments of about 20 runs, most with a hypothesis;
- about 30% of runs failed or killed, each with a realistic error text and a negative result carrying a failure
  mode and a suspected cause (notations of the shipped vocabularies), sometimes a lesson learned;
- parameters named the way different trackers name them (``lr`` in some projects, ``learning_rate`` in others);
- metrics with history summaries, NaN or infinite losses for numerically unstable runs;
- dataset snapshots shared across runs and identified by md5 checksum, drifting to new versions over time;
- code versions, environments, agents, the occasional parent run, and a few runs missing their commit,
  dataset checksum or environment;
- hand-recorded results (supports / refutes / null effect) on some experiments, the negative ones informing a
  later experiment.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from expgraph.records import (
    Agent,
    Artifact,
    Checksum,
    CodeVersion,
    DatasetSnapshot,
    Environment,
    Experiment,
    Hypothesis,
    ImportBatch,
    MetricHistory,
    MetricValue,
    ParameterSetting,
    Project,
    Result,
    Run,
    RunStatus,
)
from expgraph.store import Store

#: The largest import source ``build_store`` writes at once; bigger catalogs are split by project.
MAX_RUNS_PER_SOURCE = 10_000
RUNS_PER_EXPERIMENT = 20
_EPOCH = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)

_PROJECT_NAMES = (
    "vision-robustness", "speech-asr", "tabular-credit", "nlp-summarisation", "rl-control", "graph-molecules",
    "recsys-ranking", "timeseries-forecast", "medical-segmentation", "code-completion",
)
_DATASETS = {
    "vision-robustness": ("imagenet-c", "cifar10-train", "cifar10-test"),
    "speech-asr": ("librispeech-clean", "librispeech-other"),
    "tabular-credit": ("credit-applications", "credit-holdout"),
    "nlp-summarisation": ("cnn-dailymail", "xsum"),
    "rl-control": ("mujoco-rollouts",),
    "graph-molecules": ("qm9", "zinc250k"),
    "recsys-ranking": ("clicks-2024", "clicks-holdout"),
    "timeseries-forecast": ("electricity", "traffic"),
    "medical-segmentation": ("brats-2021", "kits19"),
    "code-completion": ("the-stack-py", "humaneval"),
}
_MODELS = ("resnet18", "resnet50", "vit-small", "bert-base", "t5-small", "mlp-3x256", "gru-2x128", "gcn-4",
           "xgboost", "lightgbm", "conformer-s", "unet-3d")
_OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "lamb")
_PEOPLE = ("alice", "bob", "chen", "dana", "emeka", "farah", "goran", "hana", "ines", "jonas", "kofi", "lea")
_PYTHONS = ("3.10.14", "3.11.9", "3.12.4")
_TORCHES = ("torch==2.1.2", "torch==2.2.2", "torch==2.3.1", "torch==2.4.0")
_IMAGES = ("ghcr.io/lab/train@sha256:", "nvcr.io/nvidia/pytorch@sha256:")
_MODULES = ("timm", "apex", "flash_attn", "torch_geometric", "sentencepiece", "deepspeed")

_HYPOTHESES = (
    ("Label smoothing improves calibration without hurting accuracy", "ECE drops by at least 1 point"),
    ("A cosine schedule beats step decay at equal compute", "val accuracy +0.5 points"),
    ("Mixed precision halves step time with no accuracy loss", "step time -40%, accuracy within 0.2 points"),
    ("Data augmentation X reduces overfitting on the small split", "train/val gap halves"),
    ("Pretraining on the larger corpus helps the downstream task", "val loss lower by 5%"),
    ("The new feature set improves AUC over the baseline", "AUC +0.01"),
    ("Larger batch with linear LR scaling matches the small-batch result", "final metric within noise"),
    ("Dropout 0.3 beats dropout 0.1 on this model", "val loss lower"),
)


@dataclass(frozen=True)
class _Failure:
    """A way a run fails: its error text template, the failure mode and suspected cause it points to."""

    text: str
    mode: str
    cause: str
    lesson: str
    weight: int = 1


_FAILED = (
    _Failure("RuntimeError: CUDA out of memory. Tried to allocate {mb} MiB (GPU 0; 15.78 GiB total capacity; "
             "{gb}.{mb2} GiB already allocated; 120.00 MiB free)", "out-of-memory", "gpu-memory-management",
             "Halve the batch size or enable gradient checkpointing on 16 GB cards", 5),
    _Failure("FloatingPointError: Loss is nan at step {step}, stopping training", "numerical-instability",
             "hyperparameters", "Lower the learning rate or clip gradients; check the loss for log(0)", 4),
    _Failure("FileNotFoundError: [Errno 2] No such file or directory: '/data/{dataset}/shard-{step:05d}.parquet'",
             "data-not-found", "missing-data", "Pin the dataset version and check the shard manifest first", 3),
    _Failure("ModuleNotFoundError: No module named '{module}'", "dependency-error", "dependency-version",
             "Build the environment from the lock file, not from requirements.txt", 2),
    _Failure("RuntimeError: mat1 and mat2 shapes cannot be multiplied ({batch}x{a} and {b}x{c})", "shape-mismatch",
             "wrong-tensor-shape", "Derive the classifier input size from the backbone instead of hard-coding it",
             3),
    _Failure("TimeoutError: evaluation did not finish within {minutes} minutes", "timeout", "resource-limits",
             "Evaluate on a subsample during training; run the full evaluation as a separate job", 2),
    _Failure("RuntimeError: CUDA error: device-side assert triggered", "gpu-error", "wrong-input-format",
             "Check that labels are in [0, num_classes) before moving them to the GPU", 1),
    _Failure("ValueError: training diverged: loss exceeded 1e6 at step {step}", "divergence", "optimiser",
             "Use warm-up with this optimiser", 2),
    _Failure("ConnectionError: Connection refused while fetching checkpoint from http://minio:9000/ckpt/{run}",
             "network-error", "configuration", "Retry checkpoint downloads with back-off", 1),
    _Failure("AssertionError: expected {a} features, got {b}", "assertion-error", "preprocessing",
             "Version the preprocessing code together with the model", 1),
)
_KILLED = (
    _Failure("slurmstepd: error: *** JOB {job} ON gpu{node:02d} CANCELLED AT 2024-05-02T03:11:54 DUE TO TIME LIMIT "
             "***", "timeout", "resource-limits", "Checkpoint every epoch so a time-limited job can resume", 4),
    _Failure("Killed (signal 9): the kernel OOM killer ended the process", "out-of-memory", "resource-limits",
             "Reduce DataLoader workers; each holds a copy of the dataset index", 3),
    _Failure("KeyboardInterrupt", "keyboard-interrupt", "unknown", "", 2),
    _Failure("", "killed", "unknown", "", 2),
)
#: Hand-recorded scientific outcomes: (kind, negative, failure mode, suspected cause, observation, lesson).
_OUTCOMES = (
    ("supports", False, None, None, "the effect was as large as expected", None),
    ("supports", False, None, None, "improvement held over five seeds", None),
    ("refutes", True, "below-baseline", "hyperparameters", "all variants stayed below the baseline",
     "Tune the baseline as carefully as the variants before comparing"),
    ("refutes", True, "overfitting", "training-data-quality", "train loss fell while val loss rose after epoch 3",
     "Add early stopping and more augmentation on the small split"),
    ("null-effect", True, "no-significant-effect", "unknown", "difference within seed noise (p = 0.41)",
     "Run at least five seeds before claiming an effect of this size"),
    ("null-effect", True, "no-significant-effect", "validation-testing", "no change on the held-out split",
     "The validation split is too small to detect a 0.5-point effect"),
    ("refutes", True, "data-leakage", "data-leakage", "the gain vanished after de-duplicating train and test",
     "De-duplicate across splits before every benchmark"),
    ("inconclusive", False, None, None, "results varied too much between seeds", None),
)


def _pick(rng: random.Random, failures: tuple[_Failure, ...]) -> _Failure:
    return rng.choices(failures, weights=[f.weight for f in failures])[0]


def _md5(*parts: object) -> str:
    return hashlib.md5("/".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def _sha1(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class _ProjectWorld:
    """What a project's runs share: its datasets (with drift dates), environments, commits, people, style."""

    project: Project
    lr_key: str
    datasets: tuple[tuple[str, tuple[tuple[datetime, str], ...]], ...]  # (name, ((valid from, version), ...))
    environments: tuple[Environment, ...]
    people: tuple[str, ...]
    repository: str


def _project_world(rng: random.Random, index: int) -> _ProjectWorld:
    base = _PROJECT_NAMES[index % len(_PROJECT_NAMES)]
    name = base if index < len(_PROJECT_NAMES) else f"{base}-{index // len(_PROJECT_NAMES) + 1}"
    datasets = []
    for dataset in _DATASETS[base]:
        versions, when = [], _EPOCH - timedelta(days=30)
        for number in range(1, rng.randint(1, 4) + 1):  # some datasets drift to new versions over time
            versions.append((when, f"v{number}"))
            when += timedelta(days=rng.randint(40, 160))
        datasets.append((dataset, tuple(versions)))
    environments = tuple(
        Environment(
            python_version=rng.choice(_PYTHONS),
            packages=(rng.choice(_TORCHES), f"numpy=={rng.choice(('1.26.4', '2.0.1'))}", "pandas==2.2.2"),
            container_image=_IMAGES[k % 2] + _sha1(name, "image", k) + _sha1(k)[:24] if k % 3 else None,
            hostname=f"gpu{rng.randint(1, 40):02d}",
            operating_system="Linux-5.15-x86_64",
        )
        for k in range(rng.randint(2, 5))
    )
    return _ProjectWorld(
        project=Project(name, title=name.replace("-", " ").capitalize(), description=f"Synthetic project {name}."),
        lr_key="lr" if index % 2 == 0 else "learning_rate",
        datasets=tuple(datasets),
        environments=environments,
        people=tuple(rng.sample(_PEOPLE, 3)),
        repository=f"https://git.example.org/lab/{name}.git",
    )


def _snapshot(world: _ProjectWorld, dataset: tuple[str, tuple[tuple[datetime, str], ...]], when: datetime,
              context: str, with_checksum: bool) -> DatasetSnapshot:
    name, versions = dataset
    version = [v for start, v in versions if start <= when][-1]
    checksum = Checksum("md5", _md5(world.project.name, name, version)) if with_checksum else None
    return DatasetSnapshot(name, checksum=checksum, version=version, location=f"s3://lab-data/{name}/{version}/",
                           context=context)


class _Generator:
    """Builds the records of one catalog; one method per record family, all drawing on one seeded RNG."""

    def __init__(self, seed: int, tracker: str) -> None:
        self.rng = random.Random(seed)
        self.tracker = tracker
        self.results: list[Result] = []

    def experiment(self, world: _ProjectWorld, index: int) -> Experiment:
        rng = self.rng
        hypothesis = None
        if rng.random() < 0.7:
            text, expected = rng.choice(_HYPOTHESES)
            hypothesis = Hypothesis(text, expected)
        return Experiment(
            native_id=f"{world.project.name}/e{index:04d}",
            name=f"{world.project.name} experiment {index}",
            project=world.project.name,
            description="Synthetic experiment.",
            research_question=hypothesis.text + "?" if hypothesis else None,
            hypothesis=hypothesis,
            tags={"team": rng.choice(("core", "applied", "infra"))},
        )

    def run(self, world: _ProjectWorld, experiment: Experiment, start: datetime, previous: list[str]) -> Run:
        rng = self.rng
        native_id = f"{rng.getrandbits(128):032x}"
        roll = rng.random()
        status = (RunStatus.FINISHED if roll < 0.68 else RunStatus.FAILED if roll < 0.90 else
                  RunStatus.KILLED if roll < 0.98 else RunStatus.RUNNING if roll < 0.99 else RunStatus.UNKNOWN)
        model, optimizer = rng.choice(_MODELS), rng.choice(_OPTIMIZERS)
        lr = rng.choice((1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5))
        batch_size, seed = rng.choice((16, 32, 64, 128, 256)), rng.randrange(10_000)
        params = (
            ParameterSetting(world.lr_key, lr, original=f"{lr:g}"),
            ParameterSetting("batch_size", batch_size),
            ParameterSetting("optimizer", optimizer),
            ParameterSetting("model", model),
            ParameterSetting("seed", seed),
            ParameterSetting("epochs", rng.choice((10, 20, 50))),
            ParameterSetting("weight_decay", rng.choice((0.0, 1e-4, 0.01))),
            ParameterSetting("use_amp", rng.random() < 0.5),
        )
        failure = None
        if status is RunStatus.FAILED:
            failure = _pick(rng, _FAILED)
        elif status is RunStatus.KILLED:
            failure = _pick(rng, _KILLED)
        runtime = rng.uniform(600, 4 * 3600) * (rng.uniform(0.05, 0.7) if failure else 1)
        steps = max(1, int(runtime // 2))
        parent = previous[-rng.randint(1, len(previous))] if previous and rng.random() < 0.05 else None
        datasets = tuple(
            _snapshot(world, dataset, start, "training" if k == 0 else "evaluation", rng.random() > 0.05)
            for k, dataset in enumerate(world.datasets[:2])
        )
        error_text = None
        if failure is not None and failure.text:
            error_text = failure.text.format(
                mb=rng.randint(20, 4000), gb=rng.randint(10, 15), mb2=rng.randint(10, 99), step=steps,
                dataset=datasets[0].name, module=rng.choice(_MODULES), batch=batch_size, a=rng.choice((512, 768)),
                b=rng.choice((256, 1024, 2048)), c=rng.choice((10, 100, 1000)), minutes=rng.choice((30, 60, 120)),
                run=native_id[:8], job=rng.randint(100_000, 999_999), node=rng.randint(1, 40),
            )
        run = Run(
            native_id=native_id,
            experiment_id=experiment.native_id,
            status=status,
            name=f"{model}-{optimizer}-{world.lr_key}{lr:g}",
            started=start,
            ended=None if status is RunStatus.RUNNING else start + timedelta(seconds=runtime),
            agent=Agent(rng.choice(world.people)),
            parent_id=parent,
            params=params,
            metrics=self.metrics(status, failure, steps, start),
            datasets=datasets,
            code=None if rng.random() < 0.07 else CodeVersion(
                _sha1(world.project.name, experiment.native_id, rng.randrange(4)), world.repository,
                dirty=rng.random() < 0.1, branch=rng.choice(("main", "main", "exp/ablation"))),
            environment=None if rng.random() < 0.08 else rng.choice(world.environments),
            artifacts=self.artifacts(native_id) if status is RunStatus.FINISHED else (),
            tags={"host": rng.choice(world.environments).hostname or "", "priority": rng.choice(("low", "normal"))},
            error_text=error_text,
            exit_code=(1 if status is RunStatus.FAILED else 137 if status is RunStatus.KILLED else
                       0 if status is RunStatus.FINISHED else None),
            runtime_seconds=round(runtime, 1) if status is not RunStatus.RUNNING else None,
            seed=seed,
        )
        if failure is not None:
            self.results.append(self.failure_result(run, failure))
        return run

    def artifacts(self, native_id: str) -> tuple[Artifact, ...]:
        checksum = Checksum("sha256", hashlib.sha256(native_id.encode()).hexdigest())
        return (Artifact("model/model.pt", is_model=True, checksum=checksum, size=self.rng.randint(10**6, 10**9)),)

    def metrics(self, status: RunStatus, failure: _Failure | None, steps: int,
                start: datetime) -> tuple[MetricValue, ...]:
        rng = self.rng
        first = rng.uniform(2.0, 3.5)
        final = first * rng.uniform(0.05, 0.6)
        if failure is not None and failure.mode in ("numerical-instability", "divergence"):
            final = math.nan if failure.mode == "numerical-instability" else math.inf
        end = start + timedelta(seconds=steps * 2)

        def value(key: str, last: float, low: float, high: float, count: int) -> MetricValue:
            history = MetricHistory(first=first if "loss" in key else low, minimum=low, maximum=high, count=count)
            return MetricValue(key, last, step=steps, timestamp=end, history=history)

        count = max(1, steps // 50)
        finite = final if math.isfinite(final) else first
        metrics = [value("train_loss", final, min(finite, first) * 0.9, max(first, finite), count)]
        if status is RunStatus.FINISHED or (failure is None and rng.random() < 0.5):
            accuracy = rng.uniform(0.55, 0.95)
            metrics.append(value("val_loss", finite * rng.uniform(1.0, 1.4), finite, first * 1.1, count // 5 + 1))
            metrics.append(value("val_accuracy", accuracy, 0.1, accuracy, count // 5 + 1))
        return tuple(metrics)

    def failure_result(self, run: Run, failure: _Failure) -> Result:
        return Result(
            native_id=f"run-{run.native_id}",
            kind="execution-failure",
            negative=True,
            title=f"{run.status.value}: {run.name}",
            runs=(run.native_id,),
            experiment_id=run.experiment_id,
            observed_outcome=f"the run ended {run.status.value}",
            error_text=run.error_text,
            failure_mode=failure.mode,
            suspected_cause=failure.cause,
            lessons=(failure.lesson,) if failure.lesson and self.rng.random() < 0.4 else (),
        )

    def outcome(self, experiment: Experiment, runs: list[Run], later: Experiment | None) -> Result:
        kind, negative, mode, cause, observed, lesson = self.rng.choice(_OUTCOMES)
        return Result(
            native_id=f"outcome-{experiment.native_id}",
            kind=kind,
            negative=negative,
            title=f"{kind.replace('-', ' ')}: {experiment.name}",
            runs=tuple(run.native_id for run in runs if run.status is RunStatus.FINISHED)[:5],
            experiment_id=experiment.native_id,
            hypothesis=experiment.hypothesis,
            expected_outcome=experiment.hypothesis.expected_outcome if experiment.hypothesis else None,
            observed_outcome=observed,
            failure_mode=mode,
            suspected_cause=cause,
            lessons=(lesson,) if lesson else (),
            informs=(later.native_id,) if negative and later is not None else (),
        )


def _default_projects(n_runs: int) -> int:
    return max(3, math.ceil(n_runs / 2500))


def make_batch(n_runs: int, seed: int = 0, *, tracker: str = "synthetic", projects: int | None = None) -> ImportBatch:
    """A synthetic catalog of ``n_runs`` runs in one import source; the same arguments give the same records.

    ``projects`` defaults to at least 3 and one per 2,500 runs, so that ``build_store`` can split a large catalog
    into sources of at most 10k runs each.
    """
    if n_runs < 0:
        raise ValueError(f"n_runs must be >= 0, got {n_runs}")
    n_projects = projects if projects is not None else _default_projects(n_runs)
    if n_projects < 1:
        raise ValueError(f"projects must be >= 1, got {n_projects}")
    gen = _Generator(seed, tracker)
    worlds = [_project_world(gen.rng, index) for index in range(n_projects)]
    sizes: list[int] = []
    while sum(sizes) < n_runs:
        sizes.append(gen.rng.randint(RUNS_PER_EXPERIMENT // 2, RUNS_PER_EXPERIMENT * 3 // 2))
    if sizes:
        sizes[-1] -= sum(sizes) - n_runs
    experiments: list[Experiment] = []
    by_project: dict[str, list[int]] = {world.project.name: [] for world in worlds}
    runs: list[Run] = []
    for index, size in enumerate(sizes):
        world = worlds[index % n_projects]
        experiment = gen.experiment(world, index // n_projects)
        by_project[world.project.name].append(len(experiments))
        experiments.append(experiment)
        start = _EPOCH + timedelta(days=index // n_projects * 3, hours=gen.rng.randint(0, 48))
        ids: list[str] = []
        for _ in range(size):
            run = gen.run(world, experiment, start, ids)
            ids.append(run.native_id)
            runs.append(run)
            start += timedelta(minutes=gen.rng.randint(5, 240))
    runs_of: dict[str, list[Run]] = {}
    for run in runs:
        runs_of.setdefault(run.experiment_id, []).append(run)
    for positions in by_project.values():
        for k, position in enumerate(positions):
            if gen.rng.random() < 0.3:
                later = experiments[positions[k + 1]] if k + 1 < len(positions) else None
                experiment = experiments[position]
                gen.results.append(gen.outcome(experiment, runs_of.get(experiment.native_id, []), later))
    return ImportBatch(
        tracker=tracker,
        source=f"synthetic://seed-{seed}/runs-{n_runs}",
        projects=tuple(world.project for world in worlds),
        experiments=tuple(experiments),
        runs=tuple(runs),
        results=tuple(gen.results),
    )


def split_by_project(batch: ImportBatch) -> Iterator[ImportBatch]:
    """One import source per project, as a lab with one tracker server per project would have."""
    project_of = {experiment.native_id: experiment.project or "" for experiment in batch.experiments}
    for project in batch.projects:
        name = project.name
        yield ImportBatch(
            tracker=batch.tracker,
            source=f"{batch.source}/{name}",
            projects=(project,),
            experiments=tuple(e for e in batch.experiments if e.project == name),
            runs=tuple(r for r in batch.runs if project_of.get(r.experiment_id) == name),
            results=tuple(r for r in batch.results if project_of.get(r.experiment_id or "") == name),
        )


def build_store(n_runs: int, path: str | Path | None, seed: int = 0, *, projects: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> Store:
    """An embedded store (on disk at ``path``, in memory when None) holding a synthetic catalog.

    Catalogs over 10k runs are written as one source per project; ``progress(done_runs, total_runs)`` is called
    after each source. The caller closes the store.
    """
    from expgraph.catalog import prepare
    from expgraph.store import EmbeddedStore

    store = prepare(EmbeddedStore(path))
    try:
        write_sources(store, import_sources(make_batch(n_runs, seed, projects=projects)), progress)
    except BaseException:
        store.close()
        raise
    return store


def import_sources(batch: ImportBatch) -> list[ImportBatch]:
    """The catalog as ``build_store`` writes it: one source, or one per project above 10k runs."""
    sources = [batch] if len(batch.runs) <= MAX_RUNS_PER_SOURCE else list(split_by_project(batch))
    if any(len(source.runs) > MAX_RUNS_PER_SOURCE for source in sources):
        raise ValueError(f"{len(batch.runs)} runs in {len(batch.projects)} projects: a project would exceed "
                         f"{MAX_RUNS_PER_SOURCE} runs; pass more projects")
    return sources


def write_sources(store: Store, sources: list[ImportBatch], progress: Callable[[int, int], None] | None = None) -> None:
    """Write each source through the catalog's import path (map, stage, swap, audit)."""
    from expgraph.catalog import store_batch

    total, done = sum(len(source.runs) for source in sources), 0
    for source in sources:
        store_batch(store, source, location=source.source)
        done += len(source.runs)
        if progress is not None:
            progress(done, total)
