"""Every experiment has a project: the one its source names, the one ``--project`` gives, else its source's default.

Runs whose experiment names no project (Sacred, TensorBoard, MLflow without a ``project`` tag) used to vanish from
every per-project answer; these tests import the real trackers' fixtures and look for them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from expgraph.catalog import run_import
from expgraph.importers import IMPORTERS, Collector
from expgraph.sparql.saved import load_queries, run_saved
from expgraph.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
PROJECTS = """PREFIX eg: <https://w3id.org/expgraph#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?experiment ?project ?label ?default WHERE {
  ?experiment a eg:Experiment .
  OPTIONAL { ?experiment eg:inProject ?project . ?project a eg:Project ; rdfs:label ?label
             BIND(EXISTS { ?project a eg:DefaultProject } AS ?default) } }"""


def _projects(store: Store) -> dict[str, tuple[str | None, bool | None]]:
    return {row["experiment"].value: (row["label"].value if "label" in row else None,
                                      row["default"].value == "true" if "default" in row else None)
            for row in store.select(PROJECTS)}


def _import(store: Store, tracker: str, source: str, project: str | None = None):
    return run_import(store, IMPORTERS[tracker](source, collector=Collector(), project=project))


def test_experiments_naming_no_project_go_into_their_sources_default_project(memory_store: Store) -> None:
    sacred, tensorboard = str(FIXTURES / "sacred" / "runs"), str(FIXTURES / "tensorboard" / "logdir")
    _import(memory_store, "sacred", sacred)
    _import(memory_store, "tensorboard", tensorboard)
    projects = _projects(memory_store)
    assert projects and all(default for _, default in projects.values())
    labels = {label for label, _ in projects.values()}
    assert labels == {f"no project (sacred {Path(sacred).resolve()})",
                      f"no project (tensorboard {Path(tensorboard).resolve()})"}


def test_mlflow_experiments_without_a_project_tag_are_counted_by_the_failure_queries(tmp_path: Path,
                                                                                      memory_store: Store) -> None:
    copy = tmp_path / "mlruns"
    shutil.copytree(FIXTURES / "mlflow" / "mlruns", copy)
    for tag in copy.glob("*/tags/project"):  # as if the user never set the tag
        tag.unlink()
    outcome = _import(memory_store, "mlflow", str(copy))
    assert outcome.failures > 0
    label = f"no project (mlflow {copy.resolve().as_uri()})"
    assert {label for label, _ in _projects(memory_store).values()} == {label}
    rows = list(run_saved(memory_store, load_queries()["failures-by-mode"]))
    assert {row["project"].value for row in rows} == {label}
    assert sum(int(row["results"].value) for row in rows) == outcome.negative_results
    completeness = list(run_saved(memory_store, load_queries()["completeness-by-project"]))
    assert [(row["project"].value, int(row["runs"].value)) for row in completeness] == [(label, outcome.runs)]


@pytest.mark.parametrize(("tracker", "fixture"), [("sacred", "sacred/runs"), ("wandb", "wandb/wandb")])
def test_project_option_puts_every_experiment_into_that_project(cli, tracker: str, fixture: str) -> None:
    code, out, err = cli("import", tracker, str(FIXTURES / fixture), "--project", "cv-lab", "--no-validate",
                         "--format", "json")
    assert code == 0, err
    assert json.loads(out)["runs"] > 0
    code, out, err = cli("sparql", PROJECTS.replace("SELECT ?experiment ?project ?label ?default",
                                                    "SELECT DISTINCT ?label ?default"), "--format", "json")
    assert code == 0, err
    bindings = json.loads(out)["results"]["bindings"]
    assert [(b["label"]["value"], b["default"]["value"]) for b in bindings] == [("cv-lab", "false")]
    code, out, _ = cli("sparql", "PREFIX eg: <https://w3id.org/expgraph#> SELECT ?p WHERE { ?p a eg:Project }",
                       "--format", "json")
    assert len(json.loads(out)["results"]["bindings"]) == 1  # the source's own projects (wandb) give way


def test_project_option_moves_a_records_files_own_concepts_too(memory_store: Store) -> None:
    _import(memory_store, "records", str(FIXTURES / "records" / "negative-results.yaml"), project="moved")
    rows = memory_store.select("""PREFIX eg: <https://w3id.org/expgraph#>
        SELECT DISTINCT ?project WHERE { ?x eg:inProject ?project }""")
    assert [row["project"].value for row in rows] == ["https://w3id.org/expgraph/id/project/moved"]


def test_web_lists_and_facets_show_the_default_project(memory_store: Store) -> None:
    from fastapi.testclient import TestClient

    from expgraph.mapping import Minter
    from expgraph.settings import load_settings
    from expgraph.web.app import create_app

    importer = IMPORTERS["sacred"](str(FIXTURES / "sacred" / "runs"), collector=Collector())
    outcome = run_import(memory_store, importer)
    default = Minter("sacred", importer.identity()).default_project().value
    with TestClient(create_app(memory_store, load_settings(environ={}))) as client:
        projects = client.get("/projects", params={"format": "json"}).json()
        assert [item["iri"] for item in projects["items"]] == [default]
        runs = client.get("/runs", params={"format": "json", "project": default}).json()
        assert runs["total"] == outcome.runs
        experiments = client.get("/experiments", params={"format": "json"}).json()
        assert experiments["total"] == outcome.experiments


def test_importing_the_same_source_with_another_project_moves_its_experiments(memory_store: Store) -> None:
    """The project is part of what an import writes: an unchanged source imported with another ``--project`` (or
    none) is not "unchanged"."""
    source = str(FIXTURES / "sacred" / "runs")
    labels = []
    for project in ("first", "second", None):
        outcome = _import(memory_store, "sacred", source, project=project)
        assert outcome.changed
        labels.append({label for label, _ in _projects(memory_store).values()})
    assert labels == [{"first"}, {"second"}, {f"no project (sacred {Path(source).resolve()})"}]
