"""The validation engine: compiled SPARQL agrees with pySHACL; fallback, scores, reports and the CI gate."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pyoxigraph
import pytest
import rdflib
from pyoxigraph import NamedNode
from rdflib.namespace import SH

from expgraph.catalog import load_file, store_batch
from expgraph.mapping import Minter, map_batch
from expgraph.namespaces import sparql_prologue
from expgraph.records import ImportBatch, Result, RunStatus
from expgraph.store import Store
from expgraph.validation import Shapes, reference_validate, summarise_import, validate, validate_catalog
from expgraph.validation.compiler import _Compiler, compile_shapes
from expgraph.validation.engine import FURNITURE_PREFIXES, read_report
from expgraph.validation.report import render
from expgraph.validation.scores import QUALITY_GRAPH, Tally, measurement_statements, write_scores
from expgraph.validation.shapes_graph import Unsupported, path_key
from synthetic import make_batch
from test_shapes import complete_batch, complete_run

EG = "https://w3id.org/expgraph#"
MINT = Minter("records", "/fixtures/defects")

#: Defects an importer cannot produce but a hand-loaded file can: wrong datatypes, unknown concepts, bad forms.
DEFECTS_TTL = """
@prefix eg: <https://w3id.org/expgraph#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix spdx: <http://spdx.org/rdf/terms#> .
@prefix schema: <https://schema.org/> .
<urn:x:run-bad> a eg:Run ;
    eg:status <https://w3id.org/expgraph/vocab/run-status/paused> ,
        <https://w3id.org/expgraph/vocab/run-status/failed> ;
    prov:startedAtTime "yesterday"^^xsd:dateTime , "2024-01-01T00:00:00Z"^^xsd:dateTime ;
    eg:seed "42" ;
    eg:runtimeSeconds "-3.0"^^xsd:double ;
    eg:inExperiment <urn:x:no-such-experiment> ;
    prov:used <urn:x:code-bad> .
<urn:x:code-bad> a schema:SoftwareSourceCode ; eg:commitHash "not a hash!" .
<urn:x:checksum-bad> a spdx:Checksum ; spdx:checksumValue "abc" .
<urn:x:neg-bad> a eg:NegativeResult , eg:Result ; eg:informs "exp-2" ;
    eg:failureMode <https://w3id.org/expgraph/vocab/failure-mode/no-such-mode> .
"""


def defects_batch() -> ImportBatch:
    base = complete_batch("/fixtures/defects")
    runs = (
        *base.runs,
        complete_run("r-bare", code=None, environment=None, datasets=(), seed=None, agent=None),
        complete_run("r-no-end", ended=None),
        complete_run("r-failed-unstarted", RunStatus.FAILED, started=None, ended=None, parent_id="ghost"),
    )
    results = (*base.results, Result("neg-orphan", "execution-failure", negative=True, title="orphan"))
    return replace(base, runs=runs, results=results)


@pytest.fixture
def defects(memory_store: Store, tmp_path: Path) -> Store:
    store_batch(memory_store, defects_batch(), location="defects")
    path = tmp_path / "defects.ttl"
    path.write_text(DEFECTS_TTL)
    load_file(memory_store, path)
    return memory_store


def keys(results) -> set:
    return {r.key() for r in results}


def short(key: tuple) -> tuple:
    focus, path, severity, component = key
    name = focus.rsplit("/", 1)[-1].removeprefix("urn:x:")
    path = path and path.rsplit("#", 1)[-1].rstrip(">")
    return name, path, severity.rsplit("#")[-1], component.rsplit("#", 1)[-1].removesuffix("ConstraintComponent")


# -- parity with pySHACL ---------------------------------------------------------------------------------------


def test_parity_on_fixture_data_with_defects(defects: Store) -> None:
    ours = validate(defects)
    assert ours.fallback == {}
    assert keys(ours.results) == keys(reference_validate(defects))
    found = {short(k) for k in keys(ours.results)}
    expected = {
        ("run-bad", "status", "Violation", "In"), ("run-bad", "status", "Violation", "MaxCount"),
        ("run-bad", "startedAtTime", "Violation", "Datatype"), ("run-bad", "startedAtTime", "Violation", "MaxCount"),
        ("run-bad", "seed", "Violation", "Datatype"), ("run-bad", "runtimeSeconds", "Violation", "MinInclusive"),
        ("run-bad", "inExperiment", "Violation", "Class"), ("code-bad", "commitHash", "Violation", "Pattern"),
        ("checksum-bad", "checksumValue", "Violation", "MinLength"), ("neg-bad", "informs", "Violation", "NodeKind"),
        ("neg-bad", "failureMode", "Violation", "Class"), ("neg-bad", None, "Violation", "Or"),
        ("neg-orphan", None, "Violation", "Or"), ("r-failed-unstarted", None, "Violation", "Or"),
        ("r-failed-unstarted", "parentRun", "Violation", "Class"), ("r-no-end", None, "Warning", "Or"),
        ("r-bare", "used", "Warning", "QualifiedMinCount"), ("r-bare", "seed", "Warning", "MinCount"),
    }
    assert expected <= found
    assert ("r1", None, "Warning", "Or") not in found  # a finished run with an end time
    assert not [k for k in found if k[0] == "r3" and k[2] == "Violation"]  # a queued run needs no start time


def test_import_validation_is_the_whole_catalog_validation_of_its_focus_nodes(defects: Store) -> None:
    """Validating one graph's focus nodes (the focus-first queries an import runs) finds exactly what the
    whole-catalog validation (anti-joins, whole-predicate scans) finds about those nodes, for every shipped shape."""
    whole = validate(defects).results
    graphs = [NamedNode(name) for name in defects.active_graphs() if not name.startswith(FURNITURE_PREFIXES)]
    checked = 0
    for graph in graphs:
        subjects = {row["s"].value for row in defects.query("SELECT DISTINCT ?s WHERE { ?s ?p ?o }", graphs=[graph])}
        expected = sorted(repr(r) for r in whole if r.focus in subjects)
        assert sorted(repr(r) for r in validate(defects, focus_graph=graph).results) == expected
        checked += bool(expected)
    assert checked == 2  # the imported batch and the hand-loaded file with defects


def test_parity_on_a_synthetic_catalog(memory_store: Store) -> None:
    store_batch(memory_store, make_batch(300, seed=3), location="synthetic")
    ours = validate(memory_store)
    reference = reference_validate(memory_store)
    assert len(ours.results) > 100
    assert keys(ours.results) == keys(reference)


def test_unsupported_shapes_fall_back_to_pyshacl(defects: Store) -> None:
    extra = """
    @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix eg: <https://w3id.org/expgraph#> .
    @prefix prov: <http://www.w3.org/ns/prov#> .
    <urn:x:EndsAfterStart> a sh:NodeShape ; sh:targetClass eg:Run ; sh:severity sh:Warning ;
        sh:property <urn:x:EndsAfterStart-p> .
    <urn:x:EndsAfterStart-p> sh:path prov:startedAtTime ; sh:lessThan prov:endedAtTime ; sh:severity sh:Warning .
    """
    shapes = Shapes.load()
    shapes.graph.parse(data=extra, format="turtle")
    store_batch(defects, ImportBatch("records", "/fixtures/backwards", runs=(
        complete_run("backwards", ended=complete_run("x").started.replace(year=2020)),)), location="backwards")
    ours = validate(defects, shapes)
    assert "urn:x:EndsAfterStart" in ours.fallback and "lessThan" in ours.fallback["urn:x:EndsAfterStart"]
    fallen = [r for r in ours.results if r.component == str(SH.LessThanConstraintComponent)]
    assert fallen and all(r.focus.endswith("/run/backwards") for r in fallen)
    from expgraph.validation.engine import export_graph, pyshacl_results

    assert keys(ours.results) == keys(pyshacl_results(export_graph(defects), shapes.graph))


# -- the compiler ----------------------------------------------------------------------------------------------


def test_paths_are_named_alike_on_both_sides() -> None:
    graph = rdflib.Graph().parse(data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> .
        <urn:s> sh:path [ sh:inversePath <urn:p> ] .
        <urn:t> sh:path ( <urn:p> [ sh:zeroOrMorePath <urn:q> ] ) .""", format="turtle")
    assert path_key(graph, graph.value(rdflib.URIRef("urn:s"), SH.path)) == "(^<urn:p>)"
    assert path_key(graph, graph.value(rdflib.URIRef("urn:t"), SH.path)) == "(<urn:p>/(<urn:q>*))"


def test_compiler_refuses_what_it_does_not_know() -> None:
    graph = rdflib.Graph().parse(data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> .
        <urn:A> a sh:NodeShape ; sh:targetNode <urn:n> ; sh:xone ( [ sh:class <urn:C> ] [ sh:class <urn:D> ] ) .
        <urn:B> a sh:NodeShape ; sh:targetNode <urn:n> ; sh:class <urn:C> .""", format="turtle")
    compiled = compile_shapes(graph, lambda c: [c])
    assert list(compiled.fallback) == ["urn:A"] and "xone" in compiled.fallback["urn:A"]
    assert [c.shape for c in compiled.checks] == ["urn:B"]
    with pytest.raises(Unsupported):
        _Compiler(graph, lambda c: [c]).violation(SH.qualifiedValueShape, rdflib.URIRef("urn:x"), "?v",
                                                  rdflib.URIRef("urn:A"))


def test_user_text_never_breaks_the_queries(memory_store: Store) -> None:
    hostile = 'a"b\\c\n} ; DROP ALL ; {'
    batch = complete_batch("/fixtures/hostile")
    batch = replace(batch, runs=(complete_run(hostile, description=hostile),))
    store_batch(memory_store, batch, location="hostile")
    assert keys(validate(memory_store).results) == keys(reference_validate(memory_store))


# -- scores ----------------------------------------------------------------------------------------------------


def stored_score(store: Store, node: NamedNode) -> float | None:
    rows = store.select(sparql_prologue() + "SELECT ?node ?v WHERE { GRAPH ?g { ?m a dqv:QualityMeasurement ; "
                        "dqv:computedOn ?node ; dqv:isMeasurementOf eg:completeness ; dqv:value ?v } }",
                        node=node)
    return float(rows[0]["v"].value) if rows else None


def test_scores_are_stored_as_dqv_measurements_and_refreshed(defects: Store) -> None:
    validate_catalog(defects)
    assert QUALITY_GRAPH.value in defects.active_graphs()
    assert stored_score(defects, MINT.run("r1")) == 1.0
    bare = stored_score(defects, MINT.run("r-bare"))
    assert bare is not None and bare == pytest.approx(1 / 6, abs=1e-6)  # only "end time of a finished run" is met
    experiment = stored_score(defects, MINT.experiment("exp-1"))
    assert experiment is not None and bare < experiment < 1.0
    project = stored_score(defects, NamedNode("https://w3id.org/expgraph/id/project/vision"))
    assert project is not None and 0 < project < 1
    fixed = replace(defects_batch(), runs=tuple(r for r in defects_batch().runs if r.native_id != "r-bare"))
    store_batch(defects, fixed, location="defects")
    validate_catalog(defects)
    assert stored_score(defects, MINT.run("r-bare")) is None
    assert stored_score(defects, MINT.experiment("exp-1")) > experiment


def test_unchanged_scores_are_not_written_again(defects: Store) -> None:
    """The second validation of an unchanged catalog recognises its scores by their digest: the quality graph
    keeps its version (no staged copy), and changed scores replace it."""
    _, scores = validate_catalog(defects)
    first = defects.active_graphs()[QUALITY_GRAPH.value]
    assert first.source_digest is not None and first.triples == sum(1 for _ in measurement_statements(scores))
    assert write_scores(defects, scores) is False
    assert defects.active_graphs()[QUALITY_GRAPH.value].version == first.version
    run = MINT.run("r-bare").value
    scores.runs[run] = Tally(scores.runs[run].applicable, scores.runs[run].applicable)
    assert write_scores(defects, scores) is True
    assert stored_score(defects, MINT.run("r-bare")) == 1.0


def test_changed_scores_patch_the_quality_graph_to_what_a_rewrite_holds(defects: Store) -> None:
    """A few changed scores are written in place (same version; the store would otherwise drop the whole previous
    version): changed, removed and new measurements, with the digest and size a full rewrite would give. Many
    changes rewrite the graph."""
    _, scores = validate_catalog(defects)
    first = defects.active_graphs()[QUALITY_GRAPH.value]
    changed, gone = MINT.run("r-bare").value, MINT.run("r1").value
    scores.runs[changed] = Tally(1, 3)
    del scores.runs[gone]
    scores.runs["https://example.org/new-run"] = Tally(2, 4)
    assert write_scores(defects, scores) is True
    patched = defects.active_graphs()[QUALITY_GRAPH.value]
    assert patched.version == first.version
    assert stored_score(defects, MINT.run("r-bare")) == pytest.approx(1 / 3, abs=1e-6)
    assert stored_score(defects, MINT.run("r1")) is None
    assert stored_score(defects, NamedNode("https://example.org/new-run")) == 0.5
    expected = list(measurement_statements(scores))
    assert sorted(str(t) for t in defects.triples(QUALITY_GRAPH)) == as_stored(expected)
    assert patched.triples == len(expected) and patched.digest == patched.source_digest != first.digest
    assert write_scores(defects, scores) is False
    scores.runs = {f"https://example.org/other-run/{i}": Tally(1, 7) for i in range(len(scores.runs))}
    assert write_scores(defects, scores) is True
    assert defects.active_graphs()[QUALITY_GRAPH.value].version != first.version
    assert sorted(str(t) for t in defects.triples(QUALITY_GRAPH)) == as_stored(measurement_statements(scores))


def as_stored(statements: Iterable[str]) -> list[str]:
    """Statements as a store reads them back (it keeps literals by value: "1.0"^^xsd:double is "1")."""
    store = pyoxigraph.Store()
    store.load("".join(f"{s} .\n" for s in statements).encode(), pyoxigraph.RdfFormat.N_TRIPLES)
    return sorted(str(quad.triple) for quad in store)


def test_summarise_import_reports_what_one_import_brought(memory_store: Store) -> None:
    store_batch(memory_store, complete_batch(), location="complete")
    outcome = store_batch(memory_store, defects_batch(), location="defects")
    summary = summarise_import(memory_store, outcome.graph)
    assert summary["runs"] == 7 and summary["complete_runs"] == 5  # all but r-bare and r-no-end
    assert summary["violations"] == 3 and summary["warnings"] >= 7  # orphan, unstarted failed run, its parent
    assert 0 < summary["completeness"] < 1
    assert summary["missing_most"][0]["count"] >= 1
    clean = summarise_import(memory_store, store_batch(memory_store, complete_batch("/x"), location="x").graph)
    assert clean["violations"] == 0 and clean["warnings"] == 0 and clean["completeness"] == 1.0


# -- reports ---------------------------------------------------------------------------------------------------


def test_turtle_report_is_a_standard_shacl_report(defects: Store) -> None:
    report, scores = validate_catalog(defects)
    graph = rdflib.Graph().parse(data=render(report, scores, "turtle"), format="turtle")
    assert (None, SH.conforms, rdflib.Literal(False)) in graph
    assert keys(read_report(graph)) == keys(report.results)


def test_json_and_text_reports(defects: Store) -> None:
    report, scores = validate_catalog(defects)
    data = json.loads(render(report, scores, "json"))
    assert data["conforms"] is False and data["counts"]["violation"] == report.counts()["violation"] > 0
    assert data["missing_most"][0]["severity"] == "violation"
    assert data["projects"][0]["name"] == "vision" and 0 < data["projects"][0]["score"] < 1
    assert data["worst"][0]["violations"] >= data["worst"][-1]["violations"]
    text = render(report, scores, "text")
    assert text.startswith("FAIL") and "What is missing most" in text and "vision" in text


def test_html_report_is_standalone_and_escaped(memory_store: Store) -> None:
    batch = complete_batch("/fixtures/html")
    name = "<script>alert(1)</script>"
    batch = replace(batch, projects=(replace(batch.projects[0], name=name),),
                    experiments=tuple(replace(e, project=name) for e in batch.experiments),
                    runs=(complete_run("r1", seed=None),), results=())
    store_batch(memory_store, batch, location="html")
    report, scores = validate_catalog(memory_store)
    page = render(report, scores, "html")
    assert ("<script>" not in page and "&lt;script&gt;" in page) or "%3Cscript%3E" in page
    assert "http://" not in page.split("<body>")[0].replace("http://www.w3.org", "")  # no external assets
    assert "random seed" in page


# -- the command line ------------------------------------------------------------------------------------------


def write_ttl(path: Path, batch: ImportBatch) -> Path:
    path.write_bytes(pyoxigraph.serialize(list(map_batch(batch)), format=pyoxigraph.RdfFormat.TURTLE))
    return path


def test_cli_gate(cli, tmp_path: Path) -> None:
    complete = write_ttl(tmp_path / "complete.ttl", complete_batch())
    assert cli("load", str(complete))[0] == 0
    code, out, _ = cli("validate")
    assert code == 0 and out.startswith("PASS")
    code, out, err = cli("validate", "--fail-on", "info")
    assert code == 0  # a complete record has no info either
    missing_seed = write_ttl(tmp_path / "seedless.ttl", replace(complete_batch("/seedless"), runs=(
        complete_run("s1", seed=None),), results=()))
    assert cli("load", str(missing_seed))[0] == 0
    assert cli("validate")[0] == 0
    code, _, err = cli("validate", "--fail-on", "warning")
    assert code == 1 and "validation failed" in err
    assert cli("validate", "--min-score", "0.99", "--project", "vision")[0] == 1
    assert cli("validate", "--min-score", "0.5", "--project", "vision")[0] == 0
    assert cli("validate", "--project", "nope")[0] != 0  # a CliError (exit 2 through main())
    code, out, _ = cli("validate", "--format", "json", "--severity", "warning")
    assert code == 0 and {r["severity"] for r in json.loads(out)["results"]} == {"warning"}
    focus = Minter("records", "/seedless").run("s1").value
    code, out, _ = cli("validate", "--format", "json", "--focus", focus, "--fail-on", "warning")
    assert code == 1 and {r["focus"] for r in json.loads(out)["results"]} == {focus}
    defects = tmp_path / "defects.ttl"
    defects.write_text(DEFECTS_TTL)
    assert cli("load", str(defects))[0] == 0
    report = tmp_path / "report.html"
    code, out, err = cli("validate", "--format", "html", "--output", str(report))
    assert code == 1 and report.read_text().startswith("<!doctype html>") and out == ""
    code, out, err = cli("validate", "--timings")
    assert code == 1 and "cpu s" in err and "final value · MaxCount" in err and "cpu s" not in out


def test_report_times_each_compiled_check(defects: Store) -> None:
    report = validate(defects)
    assert len(report.timings) == len({(t.shape, t.component, t.path) for t in report.timings}) > 20
    counted = Counter((t.shape, t.component) for t in report.timings for _ in range(t.results))
    assert counted == Counter((r.shape, r.component) for r in report.results)
    assert all(t.cpu_seconds >= 0 and t.seconds >= 0 for t in report.timings)


def test_shapes_targeting_the_audit_or_quality_graphs_see_them(defects: Store) -> None:
    """Checks run over the imported graphs only, unless a shape's targets occur elsewhere (regression guard)."""
    validate_catalog(defects)
    extra = """
    @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix dqv: <http://www.w3.org/ns/dqv#> .
    @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
    <urn:x:Scores> a sh:NodeShape ; sh:targetClass dqv:QualityMeasurement ; sh:property <urn:x:Scores-value> .
    <urn:x:Scores-value> sh:path dqv:value ; sh:datatype xsd:decimal .
    """
    shapes = Shapes.load()
    shapes.graph.parse(data=extra, format="turtle")
    ours = validate(defects, shapes)
    assert [r for r in ours.results if r.shape == "urn:x:Scores-value"]
    from expgraph.validation.engine import export_graph, pyshacl_results

    assert keys(ours.results) == keys(pyshacl_results(export_graph(defects), shapes.graph))
