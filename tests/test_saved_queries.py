"""Every saved query against a small catalog whose answers are known from its records; parameter safety; the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from pyoxigraph import NamedNode, QuerySolutions, Triple

from expgraph.catalog import prepare, store_batch
from expgraph.namespaces import SKOS
from expgraph.sparql.saved import SavedQueryError, get_query, load_queries, parse_query_file, run_saved
from expgraph.store import EmbeddedStore, Store, open_store
from loopback import SparqlServer
from query_fixtures import ALPHA, BETA, GAMMA, alpha_batch, experiment_iri, fill, gamma_batch, project_iri, run_iri

REQUIRED = {"failures-by-mode", "failure-rate-by-dataset", "already-failed", "runs-missing-provenance"}
FM = "https://w3id.org/expgraph/vocab/failure-mode/"


@pytest.fixture(scope="module", params=["embedded", "oxigraph", "virtuoso"])
def store(request: pytest.FixtureRequest):
    """The catalog in the embedded store and on two real servers, Oxigraph server and Virtuoso: the same answers
    from each (on Virtuoso, a fraction of integers needs a decimal in the query, or it is cut to an integer)."""
    if request.param != "embedded":
        server: SparqlServer = request.getfixturevalue(request.param)
        server.reset()
        opened: Store = open_store(endpoint=server.endpoint)
    else:
        opened = EmbeddedStore()
    store = fill(prepare(opened))
    yield store
    store.close()


def rows(store: Store, name: str, **params: str) -> list[dict[str, str]]:
    result = run_saved(store, get_query(name), params)
    assert isinstance(result, QuerySolutions)
    names = [v.value for v in result.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in result]


def test_library_has_the_required_queries_with_headers():
    library = load_queries()
    assert len(library) >= 12
    assert set(library) >= REQUIRED
    for query in library.values():
        assert query.title and query.description, query.name


def test_every_saved_query_is_documented():
    docs = (Path(__file__).parents[1] / "docs" / "queries.md").read_text(encoding="utf-8")
    missing = [name for name in load_queries() if f"`{name}`" not in docs]
    assert not missing, f"saved queries missing from docs/queries.md: {missing}"


def test_failures_by_mode_rolls_up_to_top_concepts(store):
    got = {(r["project"], r["mode"].removeprefix(FM)): int(r["results"]) for r in rows(store, "failures-by-mode")}
    assert got == {("alpha", "resource-exhaustion"): 1, ("alpha", "numerical-problem"): 1,
                   ("alpha", "generalisation-problem"): 1, ("beta", "resource-exhaustion"): 1}
    only_beta = rows(store, "failures-by-mode", project=project_iri("beta"))
    assert [(r["project"], r["results"]) for r in only_beta] == [("beta", "1")]


def test_failures_by_mode_counts_a_projects_own_concept_under_ours(store):
    own = NamedNode("https://example.org/lab/vocab/dataloader-crash")
    vocabulary = NamedNode("https://example.org/lab/graph")
    store.replace_graph(vocabulary, [Triple(own, SKOS.broader, NamedNode(FM + "crash"))])
    base = alpha_batch()
    extra = replace(base.results[0], native_id="run-a3-own", runs=("a3",), failure_mode=own.value)
    try:
        store_batch(store, replace(base, results=(*base.results, extra)), location=ALPHA.source)
        got = {(r["project"], r["mode"].removeprefix(FM)): int(r["results"]) for r in rows(store, "failures-by-mode")}
        assert got[("alpha", "execution-error")] == 1  # dataloader-crash -> crash -> execution-error
    finally:
        store_batch(store, base, location=ALPHA.source)
        store.drop(vocabulary)


def test_failure_rate_by_dataset(store):
    got = {r["dataset"]: (int(r["runs"]), int(r["failures"]), float(r["failure_rate"]))
           for r in rows(store, "failure-rate-by-dataset")}
    assert got == {"mnist": (3, 2, 0.667), "imagenet": (2, 1, 0.5), "cifar": (1, 0, 0.0)}
    assert {r["dataset"] for r in rows(store, "failure-rate-by-dataset", min_runs="3")} == {"mnist"}


def test_already_failed_given_a_run_finds_the_same_config_across_trackers(store):
    a1 = run_iri(ALPHA, "a1")
    near = {r["other"]: (int(r["matching"]), int(r["compared"])) for r in rows(store, "already-failed", run=a1)}
    # lr/learning_rate, batch_size, optimizer, model compared (seed is not); a3 differs in lr only
    assert near == {run_iri(ALPHA, "a2"): (4, 4), run_iri(BETA, "b1"): (4, 4), run_iri(ALPHA, "a3"): (3, 4)}
    exact = {r["other"] for r in rows(store, "already-failed", run=a1, tolerance="0")}
    assert exact == {run_iri(ALPHA, "a2"), run_iri(BETA, "b1")}


def test_already_failed_given_key_values(store):
    found = {r["other"] for r in rows(store, "already-failed", config="learning_rate=0.01,model=resnet18",
                                      tolerance="0")}
    assert found == {run_iri(ALPHA, "a3")}
    assert rows(store, "already-failed") == []  # neither run nor config: nothing to compare with


def test_already_failed_spells_parameter_names_as_the_mapper_does():
    """The query names the given keys as configurations name them; a synonym known to one only would never match."""
    from expgraph.completeness import SEED_PARAMETERS
    from expgraph.mapping import PARAMETER_SYNONYMS, UNCOMPARED_PARAMETERS

    text = get_query("already-failed").text
    for spelling, name in PARAMETER_SYNONYMS.items():
        assert f'"{spelling}"' in text and f'"{name}"' in text, spelling
    left_out = ", ".join(f'"{name}"' for name in sorted(UNCOMPARED_PARAMETERS, key=SEED_PARAMETERS.index))
    assert f"FILTER(?key NOT IN ({left_out}))" in text and f"FILTER(?name NOT IN ({left_out}))" in text


def test_runs_missing_provenance(store):
    got = {r["run"]: (r["no_commit"], r["no_checksum"], r["no_environment"])
           for r in rows(store, "runs-missing-provenance")}
    assert got == {run_iri(ALPHA, "a3"): ("true", "false", "false"), run_iri(ALPHA, "a4"): ("false", "true", "true")}
    assert rows(store, "runs-missing-provenance", project=project_iri("beta")) == []


def test_recurring_failure_modes(store):
    got = [(r["model"], r["mode"], r["projects"]) for r in rows(store, "recurring-failure-modes")]
    assert got == [("resnet18", "out-of-memory", "2")]
    assert len(rows(store, "recurring-failure-modes", min_projects="1")) == 3  # + numerical-instability, overfitting


def test_hyperparameter_ranges_treat_lr_aliases_as_one(store):
    got = {r["outcome"]: (int(r["runs"]), float(r["minimum"]), float(r["maximum"]))
           for r in rows(store, "hyperparameter-ranges", key="lr")}
    assert got == {"failed": (3, 0.001, 0.01), "finished": (3, 0.001, 0.1)}
    batch = {r["outcome"]: (float(r["maximum"]), round(float(r["mean"]), 3))
             for r in rows(store, "hyperparameter-ranges", key="batch_size")}
    assert batch == {"failed": (32.0, 32.0), "finished": (64.0, 42.667)}  # (32 + 32 + 64) / 3, not cut to 42
    assert rows(store, "hyperparameter-ranges", key="seed") == []  # configurations leave the seed out


def test_negative_results_by_hypothesis(store):
    got = rows(store, "negative-results-by-hypothesis")
    assert [(r["hypothesis"], r["negative_results"], r["kinds"], r["informed"]) for r in got] == [
        ("Dropout 0.3 beats dropout 0.1", "1", "refutes", "alpha e2")]


def test_file_drawer(store):
    assert [r["experiment"] for r in rows(store, "file-drawer")] == [experiment_iri(ALPHA, "alpha/e2")]
    assert rows(store, "file-drawer", min_runs="2") == []


def test_conflicting_outcomes(store):
    got = [(r["settings"], r["runs"], r["finished"], r["failed"]) for r in rows(store, "conflicting-outcomes")]
    # alpha's "lr" and beta's "learning_rate" runs are one configuration; the seed is not compared
    assert got == [("batch_size=32, learning_rate=0.001, model=resnet18, optimizer=adam", "4", "2", "2")]


def test_completeness_by_project(store):
    got = {r["project"]: (r["runs"], float(r["with_commit"]), float(r["with_checksum"]), float(r["with_environment"]))
           for r in rows(store, "completeness-by-project")}
    assert got == {"alpha": ("4", 75.0, 75.0, 75.0), "beta": ("2", 100.0, 100.0, 100.0)}


def test_dataset_drift(store):
    got = [(r["dataset"], r["versions"], r["runs"]) for r in rows(store, "dataset-drift")]
    assert got == [("mnist", "2", "3")]


def test_recent_failures(store):
    assert [r["run"] for r in rows(store, "recent-failures")] == [
        run_iri(BETA, "b1"), run_iri(ALPHA, "a3"), run_iri(ALPHA, "a2")]
    assert [r["run"] for r in rows(store, "recent-failures", since="2024-03-01T00:00:00Z")] == [run_iri(BETA, "b1")]


def test_failure_causes(store):
    got = {(r["mode"], r["cause"]): r["results"] for r in rows(store, "failure-causes", mode="out-of-memory")}
    assert got == {("out-of-memory", "gpu-memory-management"): "2"}


def test_lessons_learned(store):
    assert [(r["mode"], r["lesson"]) for r in rows(store, "lessons-learned")] == [
        ("out-of-memory", "Halve the batch size on 16 GB cards")]


# -- safety --------------------------------------------------------------------------------------------------------

HOSTILE_STRINGS = ['out-of-memory" || true || "', "x\") } UNION { ?result ?p ?o } #", "any\nFILTER(true)"]


@pytest.mark.parametrize("value", HOSTILE_STRINGS)
def test_hostile_strings_stay_literals(store, value):
    assert rows(store, "failure-causes", mode=value) == []
    text = get_query("failure-causes").bind({"mode": value})
    assert text.count("?result a eg:NegativeResult") == 1  # the query's structure is unchanged


@pytest.mark.parametrize("value", ["https://x/> } ; DROP ALL #", "not an iri", "javascript:alert(1)>"])
def test_hostile_iris_are_refused(store, value):
    with pytest.raises(SavedQueryError, match="project"):
        rows(store, "failures-by-mode", project=value)


def test_hostile_pairs_stay_literals(store):
    assert rows(store, "already-failed", config='model=resnet18") } UNION { ?x ?y ?z } #', tolerance="0") == []


@pytest.mark.parametrize(("params", "message"), [
    ({"min_runs": "three"}, "min_runs"), ({"nope": "1"}, "unknown parameter"), ({"since": "yesterday"}, "since")])
def test_bad_parameter_values_name_the_parameter(store, params, message):
    name = "recent-failures" if "since" in params else "file-drawer"
    with pytest.raises(SavedQueryError, match=message):
        rows(store, name, **params)


def test_bad_header_names_the_file(tmp_path: Path):
    bad = tmp_path / "bad.rq"
    bad.write_text("# title: x\n# param: n integr -- typo\nSELECT * WHERE { #@params\n}\n")
    with pytest.raises(SavedQueryError, match=r"bad\.rq:2"):
        parse_query_file(bad)
    bad.write_text("# description: no title\nSELECT * {}\n")
    with pytest.raises(SavedQueryError, match=r"no .# title:. line"):
        parse_query_file(bad)


# -- command line --------------------------------------------------------------------------------------------------


def test_cli_lists_and_runs_queries(cli, tmp_path: Path):
    code, out, _ = cli("query", "--list", "--format", "json")
    assert code == 0
    listed = json.loads(out)
    assert {q["name"] for q in listed} >= REQUIRED
    assert {"name", "title", "description", "parameters"} <= set(listed[0])
    fill(prepare(EmbeddedStore(tmp_path / "cli-store"))).close()
    code, out, _ = cli("query", "failure-causes", "--param", "mode=out-of-memory", "--format", "csv")
    assert code == 0, out
    assert out.splitlines()[:2] == ["mode,cause,results", "out-of-memory,gpu-memory-management,2"]
    code, out, _ = cli("query", "failure-causes", "--param", "mode=out-of-memory", "--format", "json")
    assert json.loads(out)["results"]["bindings"][0]["results"]["value"] == "2"
    code, _, _ = cli("query", "recent-failures", "--param", "since=soon")
    assert code != 0  # CliError: main() prints it as one line naming the parameter


def test_shared_labels_stated_by_several_sources_never_repeat_a_row():
    # A second source in project alpha, using the same datasets: the union of sources then states the project's and
    # the dataset series' labels twice, and a label joined after counting used to repeat each row.
    second = replace(alpha_batch(), source="file:///lab/alpha-rerun/mlruns")
    with fill(prepare(EmbeddedStore())) as store:
        store_batch(store, second, location=second.source)
        store_batch(store, gamma_batch(), location=GAMMA.source)  # a presumed dead run, for presumed-dead-runs
        for name, query in load_queries().items():
            params = {"run": run_iri(ALPHA, "a2")} if name == "already-failed" else {}
            result = run_saved(store, query, params)
            assert isinstance(result, QuerySolutions)
            found = [tuple(row) for row in result]
            assert found, name
            assert len(found) == len(set(found)), f"{name} repeats rows"
