"""A result's own page (negative results first of all): concepts linked with their labels, the runs it is about
linked with name and status (also runs of other sources, which a hand-written record names as ``tracker:id``), the
experiments it informed, who recorded it; and the run and experiment pages linking back to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from expgraph.catalog import run_import
from expgraph.importers.records import RecordsImporter
from expgraph.mapping import Minter
from expgraph.settings import load_settings
from expgraph.web.app import create_app
from web_data import OOM_ERROR, build, iri

RECORD = """\
- project: vision
  id: no-gain-at-lr-0.01
  title: A smaller learning rate gave no gain
  hypothesis: lr 0.01 beats lr 0.1 on accuracy
  expected_outcome: accuracy +1 point
  observed_outcome: within noise
  deviations: [one seed only]
  result_kind: null-effect
  failure_mode: no-significant-effect
  suspected_cause: hyperparameters
  lessons: [use three seeds, "compare at equal wall time"]
  runs:
    - {tracker: mlflow, id: r1}
    - {tracker: mlflow, id: not-imported}
  informs: [https://w3id.org/expgraph/id/somewhere/experiment/later]
"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Iterator[tuple[TestClient, str]]:
    from expgraph.catalog import prepare
    from expgraph.store import EmbeddedStore

    store = build(prepare(EmbeddedStore()))
    path: Path = tmp_path_factory.mktemp("records") / "notebook.yaml"
    path.write_text(RECORD)
    importer = RecordsImporter(str(path))
    run_import(store, importer)
    record = Minter("records", importer.identity()).result("no-gain-at-lr-0.01").value
    with TestClient(create_app(store, load_settings(environ={}))) as client:
        yield client, record
    store.close()


def page(client: TestClient, iri_value: str, fmt: str | None = "json"):
    response = client.get("/resource", params={"iri": iri_value, **({"format": fmt} if fmt else {})},
                          headers={"accept": "application/json" if fmt == "json" else "text/html"},
                          follow_redirects=True)
    assert response.status_code == 200, response.text
    return response.json() if fmt == "json" else response.text


def test_a_negative_result_of_a_failed_run_shows_its_run_concepts_lesson_and_what_it_informed(catalog) -> None:
    client, _ = catalog
    data = page(client, iri("result", "nr-r2"))
    assert data["kind"] == "result" and data["negative"] and data["label"] == "r2 ran out of GPU memory"
    assert data["failure_mode"]["label"] == "out of memory"
    assert data["failure_mode"]["broader"]["label"] == "resource exhaustion"
    assert data["suspected_cause"]["iri"].endswith("/suspected-cause/gpu-usage")
    assert data["result_kind"]["label"] == "execution failure"
    assert data["lessons"] == ["halve the batch size on 16 GB cards"] and data["error"] == OOM_ERROR
    (run,) = data["runs"]
    assert run["run"] == {"iri": iri("run", "r2"), "label": "run r2"} and run["status"] == "failed"
    assert run["experiment"]["label"] == "lr sweep"
    assert data["experiment"]["label"] == "lr sweep" and data["experiment"]["project"]["label"] == "vision"
    assert [e["label"] for e in data["informs"]] == ["smaller batches"]
    assert data["provenance"]["source"]["location"] == "/data/web-test-mlruns"
    assert data["provenance"]["recorded"]["agent"] and data["provenance"]["recorded"]["time"]


def test_a_project_s_own_failure_mode_is_linked_with_its_label_and_broader_concept(catalog) -> None:
    client, _ = catalog
    mode = page(client, iri("result", "nr-r4"))["failure_mode"]
    assert mode["label"] == "data loader stall" and mode["broader"]["label"] == "timeout"


def test_a_hand_written_record_links_runs_of_other_sources_by_tracker_and_id(catalog) -> None:
    client, record = catalog
    data = page(client, record)
    assert data["hypothesis"] == "lr 0.01 beats lr 0.1 on accuracy" and data["expected"] == "accuracy +1 point"
    assert data["observed"] == "within noise" and data["deviations"] == ["one seed only"]
    assert data["lessons"] == ["compare at equal wall time", "use three seeds"]
    assert data["failure_mode"]["label"] == "no significant effect"
    assert data["suspected_cause"]["label"] == "hyperparameters"
    assert [(r["run"]["iri"], r["run"]["label"], r["status"], r["ref"]) for r in data["runs"]] == [
        (iri("run", "r1"), "run r1", "finished", "mlflow:r1")]
    assert data["missing_runs"] == ["mlflow:not-imported"]
    assert [e["iri"] for e in data["informs"]] == ["https://w3id.org/expgraph/id/somewhere/experiment/later"]
    assert data["provenance"]["source"]["location"].endswith("notebook.yaml")


def test_the_result_page_links_every_concept_run_and_experiment(catalog) -> None:
    client, record = catalog
    html = page(client, record, None)
    assert "<h1>A smaller learning rate gave no gain" in html and "negative result" in html
    for label in ("no significant effect", "hyperparameters", "run r1", "null effect"):
        assert f">{label}</a>" in html
    assert 'href="/id/mlflow/' in html and "<code>mlflow:not-imported</code>" in html
    assert html.count('class="status status-finished"') == 1
    html = page(client, iri("result", "nr-r2"), None)
    assert ">out of memory</a>" in html and ">smaller batches</a>" in html and "halve the batch size" in html


def test_run_and_experiment_pages_link_back_to_results_naming_their_runs(catalog) -> None:
    client, record = catalog
    run = page(client, iri("run", "r1"))
    assert record in [r["result"]["iri"] for r in run["results"]]
    experiment = page(client, iri("experiment", "exp1"))
    found = {r["result"]["iri"] for r in experiment["results"]}
    assert {record, iri("result", "nr-r2"), iri("result", "nr-r4")} <= found
    assert f'href="/id/{record.split("/id/", 1)[1]}"' in page(client, iri("run", "r1"), None)


def test_already_failed_shows_run_name_status_failure_mode_and_error_linked(catalog) -> None:
    """The saved query keeps its first six columns for scripts and adds the run's name, a failure mode with its
    label and the error; the page folds each label into the link of the IRI it names."""
    client, _ = catalog
    answer = client.get("/queries/already-failed", params={"run": iri("run", "r1"), "format": "json"})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["columns"] == ["other", "status", "project", "mode", "matching", "compared", "otherLabel",
                               "failureMode", "failureModeLabel", "error"]
    (row,) = data["rows"]
    assert (row["other"], row["otherLabel"], row["status"], row["mode"]) == (
        iri("run", "r2"), "run r2", "failed", "out-of-memory")
    assert row["failureMode"].endswith("/failure-mode/out-of-memory") and row["failureModeLabel"] == "out of memory"
    assert row["error"] == OOM_ERROR
    html = client.get("/queries/already-failed", params={"run": iri("run", "r1")}).text
    assert f'title="{iri("run", "r2")}">run r2</a>' in html and ">out of memory</a>" in html
    assert "<th>otherLabel</th>" not in html and "<th>failureModeLabel</th>" not in html
    assert "CUDA out of memory" in html
