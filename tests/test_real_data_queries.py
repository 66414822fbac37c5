"""Saved queries answer on real users' data: a catalog of every real tracker's fixture, as the trackers wrote them.

Sacred and TensorBoard stores hold no project at all, and one MLflow store here has its ``project`` tags removed
(as if the user never set them). Every saved query must answer for those runs: the expected answers are computed
from the records the importers read (not from the queries), source by source. The same catalog checks that the
three readers of "what a run lacks" agree: the mapper's ``eg:lacks``, the run page's box and ``validate``.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import contract_trackers as ct
from expgraph.catalog import prepare, store_batch
from expgraph.completeness import RUN_NEEDS, SHAPES
from expgraph.failures import FailureClassifier
from expgraph.importers import IMPORTERS, Collector
from expgraph.importers.base import build_batch
from expgraph.mapping import Minter, comparable_settings
from expgraph.records import ImportBatch, Run
from expgraph.sparql.saved import load_queries, run_saved
from expgraph.store import EmbeddedStore, Store
from expgraph.validation import validate
from expgraph.web.run_page import run as run_page

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Catalog:
    store: Store
    batches: list[ImportBatch]

    def runs(self) -> Iterator[tuple[ImportBatch, Run]]:
        for batch in self.batches:
            for run in batch.runs:
                yield batch, run


def _iri(batch: ImportBatch, run: Run) -> str:
    return Minter(batch.tracker, batch.source).run(run.native_id).value


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    work = tmp_path_factory.mktemp("real")
    mlruns = work / "mlruns"
    shutil.copytree(FIXTURES / "mlflow" / "mlruns", mlruns)
    for tag in mlruns.glob("*/tags/project"):  # an MLflow user who never set a project tag
        tag.unlink()
    shutil.copytree(FIXTURES / "mlflow" / "sqlite", work / "sqlite")
    shutil.copytree(FIXTURES / "dvc", work / "dvc")
    sources = [("mlflow", str(mlruns)), ("mlflow", f"sqlite:///{work / 'sqlite' / 'mlflow.db'}"),
               ("sacred", str(FIXTURES / "sacred" / "runs")), ("tensorboard", str(FIXTURES / "tensorboard" / "logdir")),
               ("wandb", str(FIXTURES / "wandb" / "wandb")), ("dvc", ct.dvc_source(work / "dvc"))]
    store = prepare(EmbeddedStore())
    classifier = FailureClassifier.from_store(store)
    batches = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        for tracker, source in sources:
            batch = build_batch(IMPORTERS[tracker](source, collector=Collector()), classifier)
            store_batch(store, batch, location=source)
            batches.append(batch)
    yield Catalog(store, batches)
    store.close()


def select(catalog: Catalog, name: str, **params: str) -> list[dict[str, str]]:
    result = run_saved(catalog.store, load_queries()[name], params)
    names = [variable.value for variable in result.variables]
    return [{key: row[key].value for key in names if row[key] is not None} for row in result]


def test_the_catalog_holds_runs_without_a_project(catalog: Catalog) -> None:
    projectless = {batch.tracker for batch in catalog.batches for e in batch.experiments if not e.project}
    assert {"mlflow", "sacred", "tensorboard"} <= projectless


def test_failures_by_mode_counts_every_negative_result(catalog: Catalog) -> None:
    rows = select(catalog, "failures-by-mode")
    expected = sum(1 for batch in catalog.batches for result in batch.results if result.negative and
                   result.failure_mode and result.experiment_id)
    assert sum(int(row["results"]) for row in rows) == expected
    for batch in catalog.batches:  # each source's failures are there, under a project of its own when it has none
        if any(run.status.is_failure for run in batch.runs) and not batch.projects:
            assert any(row["project"] == f"no project ({batch.tracker} {batch.source})" for row in rows)


def test_recent_failures_lists_every_failed_run(catalog: Catalog) -> None:
    found = {row["run"] for row in select(catalog, "recent-failures")}
    assert found == {_iri(b, r) for b, r in catalog.runs() if r.status.is_failure and r.started}
    assert found, "the fixtures hold failed runs"


def test_runs_missing_provenance_lists_every_incomplete_run(catalog: Catalog) -> None:
    found = {row["run"] for row in select(catalog, "runs-missing-provenance")}
    expected = {_iri(b, r) for b, r in catalog.runs()
                if r.code is None or r.environment is None or not r.datasets
                or any(d.checksum is None for d in r.datasets)}
    assert found == expected and found


def test_completeness_by_project_counts_every_run(catalog: Catalog) -> None:
    rows = select(catalog, "completeness-by-project")
    assert sum(int(row["runs"]) for row in rows) == sum(1 for _ in catalog.runs())
    ended = [r for _, r in catalog.runs() if not (r.ended is None and r.status.value == "finished")]
    assert sum(int(row["runs"]) * float(row["with_end_time"]) / 100 for row in rows) == \
        pytest.approx(len(ended), abs=len(rows))  # rounded per project


def test_file_drawer_lists_every_experiment_without_a_negative_result(catalog: Catalog) -> None:
    found = {row["experiment"] for row in select(catalog, "file-drawer")}
    expected = set()
    for batch in catalog.batches:
        mint = Minter(batch.tracker, batch.source)
        negative = {result.experiment_id for result in batch.results if result.negative}
        with_runs = {run.experiment_id for run in batch.runs}
        expected |= {mint.experiment(e).value for e in with_runs - negative}
    assert found == expected


def test_failure_rate_by_dataset_counts_every_run_that_used_a_dataset(catalog: Catalog) -> None:
    rows = select(catalog, "failure-rate-by-dataset")
    runs = Counter(d.name for _, r in catalog.runs() for d in {d.name: d for d in r.datasets}.values())
    failures = Counter(d.name for _, r in catalog.runs() if r.status.is_failure
                       for d in {d.name: d for d in r.datasets}.values())
    assert {row["dataset"]: (int(row["runs"]), int(row["failures"])) for row in rows} == \
        {name: (count, failures[name]) for name, count in runs.items()}


def test_already_failed_finds_each_failed_run_by_its_own_configuration(catalog: Catalog) -> None:
    failed = [(b, r) for b, r in catalog.runs() if r.status.is_failure and comparable_settings(r.params)]
    assert failed
    for batch, run in failed:
        pairs = ",".join(f"{key}={value}" for key, _, value in comparable_settings(run.params)
                         if "," not in str(value) and "=" not in str(value))
        if not pairs:
            continue
        found = {row["other"] for row in select(catalog, "already-failed", config=pairs, tolerance="0")}
        assert _iri(batch, run) in found, run.native_id


def test_already_failed_types_a_config_value_as_the_importers_do(catalog: Catalog) -> None:
    """Sacred run 2 has the parameter outcome="nan" (a string): looking for outcome=nan should find it."""
    batch, run = next((b, r) for b, r in catalog.runs() if b.tracker == "sacred" and r.native_id == "2")
    found = {row["other"] for row in select(catalog, "already-failed", config="outcome=nan", tolerance="0")}
    assert _iri(batch, run) in found


def test_conflicting_outcomes_and_hyperparameter_ranges_answer(catalog: Catalog) -> None:
    outcomes: dict[str, set[str]] = {}
    for _, run in catalog.runs():
        settings = comparable_settings(run.params)
        if settings and run.status.value in ("finished", "failed", "killed"):
            key = "\n".join(f"{k}={w}" for k, w, _ in settings)
            outcomes.setdefault(key, set()).add("ok" if run.status.value == "finished" else "failed")
    conflicts = sum(1 for kinds in outcomes.values() if len(kinds) == 2)
    assert len(select(catalog, "conflicting-outcomes", min_runs="2")) == conflicts
    numeric = Counter(s.key for _, r in catalog.runs() for s in r.params
                      if isinstance(s.value, int | float) and not isinstance(s.value, bool))
    key = numeric.most_common(1)[0][0]
    rows = select(catalog, "hyperparameter-ranges", key=key)
    assert rows and sum(int(row["runs"]) for row in rows) > 0


def test_recurring_failure_modes_counts_projectless_runs(catalog: Catalog) -> None:
    modelled = [(b, r) for b, r in catalog.runs() if r.status.is_failure and any(p.key == "model" for p in r.params)]
    rows = select(catalog, "recurring-failure-modes", min_projects="1")
    assert sum(int(row["runs"]) for row in rows) >= len(modelled)


# -- one definition of what a run lacks ---------------------------------------------------------------------------


def test_lacks_the_run_page_and_validate_agree_on_every_run(catalog: Catalog) -> None:
    report = validate(catalog.store)
    by_shape = {need.shape: need for need in RUN_NEEDS}
    warned: dict[str, set[str]] = {}
    for result in report.results:
        if result.shape in by_shape and result.severity.endswith("Warning"):
            warned.setdefault(result.focus, set()).add(result.shape)
    used = catalog.store.select("""PREFIX prov: <http://www.w3.org/ns/prov#>
        PREFIX dcat: <http://www.w3.org/ns/dcat#>
        SELECT ?run ?snapshot WHERE { ?run prov:used ?snapshot . ?snapshot dcat:inSeries ?series }""")
    checksum, dataset = f"{SHAPES}Dataset-checksum", f"{SHAPES}Run-dataset"
    for row in used:
        if checksum in warned.get(row["snapshot"].value, set()):
            warned.setdefault(row["run"].value, set()).add(checksum)
    compared = 0
    for batch, run in catalog.runs():
        iri = _iri(batch, run)
        expected = set(warned.get(iri, set()))
        if dataset in expected:  # no dataset at all: no checksum either
            expected.add(checksum)
        lacks = {row["what"].value for row in catalog.store.select(
            f"SELECT ?what WHERE {{ <{iri}> <https://w3id.org/expgraph#lacks> ?what }}")}
        assert {need.shape for need in RUN_NEEDS if need.term.value in lacks} == expected, run.native_id
        assert {need.shape for need in RUN_NEEDS if need.missing(run)} == expected, run.native_id
        compared += 1
    assert compared == sum(1 for _ in catalog.runs())


def test_the_run_page_lists_what_the_run_lacks(catalog: Catalog) -> None:
    from expgraph.validation import validate_catalog

    validate_catalog(catalog.store)  # the page shows completeness once scores exist
    for batch, run in catalog.runs():
        page = run_page(catalog.store, Minter(batch.tracker, batch.source).run(run.native_id))
        assert page["completeness"]["missing"] == [need.label for need in RUN_NEEDS if need.missing(run)]


def test_seed_parameters_are_the_runs_seed_for_every_tracker(catalog: Catalog) -> None:
    from expgraph.completeness import SEED_PARAMETERS, run_seed

    seeded = [(b, r) for b, r in catalog.runs() if run_seed(r) is not None]
    assert {b.tracker for b, _ in seeded} >= {"sacred"}
    for batch, run in catalog.runs():
        named = [p.value for p in run.params if p.key in SEED_PARAMETERS and isinstance(p.value, int)]
        rows = catalog.store.select(
            f"SELECT ?seed WHERE {{ <{_iri(batch, run)}> <https://w3id.org/expgraph#seed> ?seed }}")
        seeds = [int(row["seed"].value) for row in rows]
        assert seeds == ([run.seed] if run.seed is not None else named[:1]), run.native_id
