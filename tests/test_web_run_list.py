"""The run list's metric and parameter columns, value filters, value sorts and CSV, through the real app."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from expgraph.catalog import prepare, store_batch
from expgraph.mapping import Minter
from expgraph.records import Experiment, ImportBatch, MetricValue, ParameterSetting, Run, RunStatus
from expgraph.settings import load_settings
from expgraph.store import EmbeddedStore
from expgraph.web.app import create_app
from web_data import HOSTILE_NAME, build, iri

SWEEP = "/data/run-list-sweep"
FORMULA = '=HYPERLINK("http://evil.example/","click")'
#: val_loss of the sweep's runs: several equal, a NaN, an infinity, negative, one run without it.
LOSSES = [0.25, 0.5, 0.125, 0.5, math.nan, math.inf, -1.0, 0.3, 0.75, None, 0.05, 2.0]


def sweep() -> ImportBatch:
    runs = []
    for i, loss in enumerate(LOSSES):
        metrics = (MetricValue("val_loss", loss, step=10),) if loss is not None else ()
        params = [ParameterSetting("lr", [1e-4, 5e-4, 1e-3, 1e-2][i % 4]),
                  ParameterSetting("optimizer", ["adam", "sgd", "Adam"][i % 3]),
                  ParameterSetting("both", i)]
        if i == 0:
            params.append(ParameterSetting("note", FORMULA))
        runs.append(Run(f"s{i}", "sweep", RunStatus.FINISHED, name=f"sweep {i:02d}", params=tuple(params),
                        metrics=(*metrics, MetricValue("both", float(i)))))
    return ImportBatch("mlflow", SWEEP, experiments=(Experiment("sweep", "value sweep"),), runs=tuple(runs))


SWEEP_RUNS = [Minter("mlflow", SWEEP).local("run", f"s{i}").value for i in range(len(LOSSES))]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    store = build(prepare(EmbeddedStore()))
    store_batch(store, sweep(), location=SWEEP)
    with TestClient(create_app(store, load_settings(environ={}))) as test_client:
        yield test_client
    store.close()


def runs(client: TestClient, *pairs: tuple[str, str], status: int = 200) -> dict:
    response = client.get("/runs", params=[*pairs, ("format", "json")])
    assert response.status_code == status, response.text
    return response.json()


def sweep_losses(listing: dict) -> list:
    return [item["values"]["metric:val_loss"] for item in listing["items"] if item["iri"] in SWEEP_RUNS]


def test_picker_lists_the_names_present_with_counts(client) -> None:
    everything = runs(client)
    assert everything["names_scope"] == "catalog"  # the catalog's names, not counted
    assert {n["name"]: n["count"] for n in everything["names"]["metric"]} == {"loss": None, "val_loss": None,
                                                                             "both": None}
    assert {n["name"] for n in everything["names"]["param"]} == {"lr", "batch_size", "note", "optimizer", "both"}
    narrowed = runs(client, ("where", "optimizer = sgd"))  # a filtered list: its own names, counted
    assert narrowed["names_scope"] == "list"
    assert {n["name"]: n["count"] for n in narrowed["names"]["metric"]} == {"val_loss": 4, "both": 4}
    params = {n["name"]: n["count"] for n in runs(client, ("where", "lr > 0"))["names"]["param"]}
    assert params == {"lr": 5 + 12, "optimizer": 12, "both": 12, "note": 2, "batch_size": 3}


def test_a_metric_filter_narrows_the_list_and_shows_its_column(client) -> None:
    listing = runs(client, ("where", "val_loss < 0.3"))
    assert listing["value_columns"] == [{"key": "metric:val_loss", "kind": "metric", "name": "val_loss"}]
    assert listing["where"] == ["metric:val_loss < 0.3"]
    assert sorted(sweep_losses(listing)) == [-1.0, 0.05, 0.125, 0.25]  # NaN and the run without one left out
    assert listing["total"] == 4
    facets = {f["name"]: {v["label"]: v["count"] for v in f["values"]} for f in listing["facets"]}
    assert facets["status"] == {"finished": 4}  # facet counts follow the value filter


def test_filters_are_anded_and_compare_texts_without_case(client) -> None:
    listing = runs(client, ("where", "lr in [1e-4, 1e-3]"), ("where", "optimizer = adam"), ("col", "param:lr"),
                   ("col", "param:optimizer"))
    got = {item["label"]: (item["values"]["param:lr"], item["values"]["param:optimizer"]) for item in listing["items"]}
    expected = {f"sweep {i:02d}": ([1e-4, 5e-4, 1e-3, 1e-2][i % 4], ["adam", "sgd", "Adam"][i % 3])
                for i in range(12) if i % 4 != 3 and i % 3 != 1}
    assert got == expected


@pytest.mark.parametrize("descending", [False, True])
def test_value_sort_is_numeric_with_missing_last(client, descending) -> None:
    sort = ("-" if descending else "") + "metric:val_loss"
    listing = runs(client, ("sort", sort), ("where", "metric:both >= 0"), ("limit", "200"))
    finite = sorted((v for v in LOSSES if v is not None and not math.isnan(v)), reverse=descending)
    assert sweep_losses(listing) == [("INF" if v == math.inf else v) for v in finite] + ["NaN", None]
    assert listing["sort"] == sort


def test_value_sort_pages_walk_every_run_once(client) -> None:
    seen, pairs = [], [("sort", "-metric:val_loss"), ("limit", "5"), ("col", "metric:val_loss")]
    for _ in range(20):
        listing = runs(client, *pairs)
        seen += [item["iri"] for item in listing["items"]]
        if not listing["next"]:
            break
        pairs = [p for p in pairs if p[0] not in ("after", "after_key")] + list(listing["next"].items())
    assert len(seen) == len(set(seen)) == 5 + 12
    assert [s for s in seen if s in SWEEP_RUNS][:2] == [SWEEP_RUNS[5], SWEEP_RUNS[11]]  # INF, then 2.0


def test_an_ambiguous_or_unknown_name_is_a_clear_400(client) -> None:
    ambiguous = runs(client, ("where", "both > 3"), status=400)
    assert ambiguous["errors"] == ["'both' is both a metric and a parameter: write metric:both or param:both"]
    assert runs(client, ("where", "metric:both > 9"))["total"] == 2
    assert runs(client, ("col", "param:nope"), status=400)["errors"] == ["no parameter named 'nope'"]
    assert "unknown sort" in client.get("/runs", params={"sort": "val_loss", "format": "json"}).json()["error"]
    many = runs(client, *[("col", f"param:x{i}") for i in range(13)], status=400)["errors"]
    assert many[0] == "at most 12 value columns at once, got 13" and len(many) == 1 + 12


def test_a_filter_that_does_not_parse_keeps_the_page_and_says_why(client) -> None:
    response = client.get("/runs", params=[("where", "val_loss <"), ("col", "metric:val_loss")])
    assert response.status_code == 400
    assert "filter &#39;val_loss &lt;&#39;: expected a value after &#39;&lt;&#39;" in response.text
    assert 'name="where" value="val_loss &lt;"' in response.text  # the form keeps what was typed
    assert 'value="metric:val_loss" checked' in response.text


def test_hostile_filters_and_names_are_values_not_query_text(client) -> None:
    for hostile in ('") } } DROP ALL #', "val_loss < 1 } ; DELETE WHERE { ?s ?p ?o }", f"{HOSTILE_NAME} = 1",
                    'note = "<img src=x>"'):
        response = client.get("/runs", params={"where": hostile, "format": "json"})
        assert response.status_code in (200, 400)
        assert "<img" not in client.get("/runs", params={"where": hostile}).text.replace("&lt;img", "")
    assert runs(client)["total"] == 5 + 12  # nothing was changed
    assert runs(client, ("where", f"note = {FORMULA}"))["total"] == 1


def test_csv_is_the_page_shown_and_safe_in_spreadsheets(client) -> None:
    pairs = [("where", "val_loss >= -5"), ("col", "param:note"), ("col", "param:lr"), ("sort", "metric:val_loss"),
             ("limit", "6")]
    shown = runs(client, *pairs)
    response = client.get("/runs", params=[*pairs, ("format", "csv")])
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="runs.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    columns = [c["name"] for c in shown["columns"]]
    assert rows[0] == ["name", *columns, "param:note", "param:lr", "metric:val_loss", "iri"]
    assert [row[-1] for row in rows[1:]] == [item["iri"] for item in shown["items"]]  # same rows, same order
    by_iri = {row[-1]: row for row in rows[1:]}
    first = by_iri[SWEEP_RUNS[6]]  # val_loss -1.0, the lowest
    assert rows[1] == first and float(first[-2]) == -1.0  # a negative number stays a number
    assert by_iri[SWEEP_RUNS[0]][len(columns) + 1] == "'" + FORMULA  # a formula is defused
    assert float(by_iri[SWEEP_RUNS[0]][len(columns) + 2]) == 1e-4


def test_other_lists_have_no_value_columns(client) -> None:
    listing = client.get("/experiments", params={"format": "json", "col": "metric:val_loss"}).json()
    assert "value_columns" not in listing and "metric:val_loss" not in client.get("/experiments").text


def test_page_links_keep_columns_and_filters(client) -> None:
    html = client.get("/runs", params=[("col", "metric:val_loss"), ("col", "param:lr"), ("where", "lr > 0"),
                                       ("limit", "3")]).text
    assert "col=metric%3Aval_loss&amp;col=param%3Alr&amp;where=lr%20%3E%200" in html  # next page, sorts, CSV
    assert html.count('name="col"') == 3 + 5  # every name of the list (the picker), nothing else


def iri_of(native_id: str) -> str:
    return iri("run", native_id)
