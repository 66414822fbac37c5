"""``/dashboard``: failures over time by failure mode, failure rate by dataset, recurring failure modes; for the
whole catalog and per project."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from expgraph.settings import load_settings
from expgraph.web.app import create_app
from expgraph.web.dashboards import TOP_MODES, _month_range, _over_time
from web_data import build

VISION = "https://w3id.org/expgraph/id/project/vision"
OOM = "https://w3id.org/expgraph/vocab/failure-mode/out-of-memory"


@pytest.fixture
def client(memory_store) -> Iterator[TestClient]:
    build(memory_store)
    with TestClient(create_app(memory_store, load_settings(environ={}))) as test_client:
        yield test_client


def dashboard(client: TestClient, **params: str) -> dict:
    answer = client.get("/dashboard", params={**params, "format": "json"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_catalog_dashboard_counts_failures_by_mode_month_and_dataset(client) -> None:
    data = dashboard(client)
    over_time = data["failures_over_time"]
    assert over_time["months"] == ["2024-03"]
    assert {m["mode"]["label"]: m["counts"] for m in over_time["modes"]} == {"out of memory": [1],
                                                                           "data loader stall": [1]}
    (cifar,) = data["by_dataset"]
    assert cifar["dataset"]["label"] == "cifar10-train"
    assert (cifar["runs"], cifar["failed"], cifar["rate"]) == (5, 2, 0.4)  # r2 failed, r4 killed
    assert {r["mode"]["iri"]: (r["runs"], r["projects"]) for r in data["recurring"]}[OOM] == (1, 1)
    assert (data["runs"], data["failed_runs"]) == (5, 2)


def test_a_project_dashboard_is_scoped_to_the_project(client) -> None:
    data = dashboard(client, project=VISION)
    assert data["project"] == {"iri": VISION, "label": "Vision robustness", "known": True}
    assert len(data["failures_over_time"]["modes"]) == 2
    other = dashboard(client, project="https://example.org/project/none")
    assert other["project"]["known"] is False and other["runs"] == 0
    assert other["failures_over_time"]["modes"] == [] and other["by_dataset"] == [] and other["recurring"] == []
    assert client.get("/dashboard", params={"project": "javascript:alert(1)"}).status_code == 400


def test_the_dashboard_page_draws_one_cell_per_mode_and_month(client) -> None:
    html = client.get("/dashboard", params={"project": VISION}).text
    assert html.count('<rect x="') >= 2 and "Vision robustness: failures at a glance" in html
    assert "2 of 5 runs" in html


def test_months_without_failures_show_as_gaps_and_rare_modes_are_summed() -> None:
    assert _month_range("2023-11", "2024-02") == ["2023-11", "2023-12", "2024-01", "2024-02"]
    monthly = Counter({(f"https://example.org/mode/{i}", month): i + 1
                       for i in range(TOP_MODES + 2) for month in ("2024-01", "2024-03")})
    over_time = _over_time(monthly, lambda iri: {"iri": iri, "label": iri.rsplit("/", 1)[-1]})
    assert over_time["months"] == ["2024-01", "2024-02", "2024-03"]
    assert len(over_time["modes"]) == TOP_MODES + 1
    assert over_time["modes"][0]["counts"] == [TOP_MODES + 2, 0, TOP_MODES + 2]  # the most frequent first
    assert over_time["modes"][-1]["mode"]["label"] == "2 other modes"
    assert over_time["modes"][-1]["counts"] == [3, 0, 3]  # modes 0 and 1: 1 + 2 each month


def test_an_import_shows_on_the_next_dashboard(client, memory_store) -> None:
    from expgraph.catalog import store_batch
    from expgraph.records import ImportBatch, Run, RunStatus

    assert dashboard(client)["failed_runs"] == 2
    batch = ImportBatch("mlflow", "/data/another", runs=(Run("x1", "e", RunStatus.FAILED, name="x1"),))
    store_batch(memory_store, batch, location="/data/another")
    assert dashboard(client)["failed_runs"] == 3


def test_completeness_over_time_is_the_mean_score_of_the_runs_started_each_month(client, memory_store) -> None:
    from expgraph.validation.scores import Scores, Tally, write_scores
    from web_data import iri

    assert dashboard(client)["completeness_over_time"] is None  # not validated yet
    scores = Scores(runs={iri("run", "r1"): Tally(1, 2), iri("run", "r3"): Tally(2, 2)})
    assert write_scores(memory_store, scores)
    assert dashboard(client)["completeness_over_time"] == {"months": ["2024-03"], "mean": [0.75], "runs": [2]}
    assert "Completeness over time" in client.get("/dashboard").text
