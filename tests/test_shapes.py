"""Every shipped shape, checked with pySHACL: a complete record conforms, and breaking what the shape asks for
makes that shape (and that constraint) report. Plus the house rules for shape files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyoxigraph
import pyshacl
import pytest
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, SH, XSD

from expgraph.mapping import map_batch
from expgraph.records import (
    Agent,
    Checksum,
    CodeVersion,
    DatasetSnapshot,
    Environment,
    Experiment,
    Hypothesis,
    ImportBatch,
    Liveness,
    MetricValue,
    ParameterSetting,
    Project,
    Result,
    Run,
    RunStatus,
)
from expgraph.resources import ontology_files, shape_files
from expgraph.validation.compiler import CONSTRAINT_PARAMETERS, component_iri
from expgraph.validation.shapes_graph import extract_shapes, node_shapes

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
SEVERITY_BY_FILE = {"must": SH.Violation, "ranges": SH.Violation, "vocabularies": SH.Violation,
                    "should": SH.Warning, "nice": SH.Info}


def complete_run(native_id: str, status: RunStatus = RunStatus.FINISHED, **changes) -> Run:
    fields = dict(
        name=f"run {native_id}", started=T0, ended=T0 + timedelta(hours=1), agent=Agent("ada"), seed=7,
        params=(ParameterSetting("lr", 0.01),), metrics=(MetricValue("loss", 0.25, step=100),),
        datasets=(DatasetSnapshot("cifar10", Checksum("md5", "0123456789abcdef0123456789abcdef"), version="v2",
                                  location="s3://data/cifar10/v2", context="training"),),
        code=CodeVersion("3f2a9c1d5e7b", repository="https://git.example.org/lab/vision", dirty=False),
        environment=Environment("3.12.1", ("torch==2.3.0", "numpy==1.26.4"), hostname="gpu-01"),
        description="baseline with cosine schedule", runtime_seconds=3600.0, exit_code=0,
    )
    fields.update(changes)
    return Run(native_id, "exp-1", status, **fields)


def complete_batch(source: str = "/fixtures/complete") -> ImportBatch:
    """One of everything, with every field the shapes ask for."""
    hypothesis = Hypothesis("Cosine schedules beat step schedules", expected_outcome="+1% accuracy")
    return ImportBatch(
        tracker="records",
        source=source,
        projects=(Project("vision", "Vision robustness", description="Robustness of image classifiers"),),
        experiments=(
            Experiment("exp-1", "schedules", project="vision", description="LR schedules",
                       research_question="Which schedule?", hypothesis=hypothesis),
            Experiment("exp-2", "follow-up", project="vision", description="Follow-up",
                       research_question="Why?", hypothesis=Hypothesis("Warm-up helps", expected_outcome="stable")),
        ),
        runs=(
            complete_run("r1"),
            complete_run("r2", RunStatus.FAILED, parent_id="r1", exit_code=137),
            complete_run("r3", RunStatus.QUEUED, started=None, ended=None),
            complete_run("r4", RunStatus.RUNNING, ended=None, runtime_seconds=None, exit_code=None,
                         last_seen=T0 + timedelta(minutes=5)),  # its process died: presumed dead a day later
        ),
        results=(
            Result("neg-1", "execution-failure", negative=True, title="OOM at batch 512", runs=("r2",),
                   experiment_id="exp-1", hypothesis=hypothesis, failure_mode="out-of-memory",
                   suspected_cause="gpu-usage", lessons=("Use gradient accumulation",), informs=("exp-2",),
                   description="Killed by the OOM killer", observed_outcome="crash after 3 epochs"),
            Result("run-r4", "execution-failure", negative=True, title="presumed dead: run r4", runs=("r4",),
                   hypothesis=hypothesis,
                   experiment_id="exp-1", failure_mode="killed", suspected_cause="gpu-usage",
                   lessons=("Watch the memory",), observed_outcome="no sign of life after 09:05"),
            Result("pos-1", "supports", title="Cosine wins", runs=("r1",), experiment_id="exp-1",
                   observed_outcome="+1.2% accuracy"),
        ),
        liveness=Liveness(T0 + timedelta(days=2)),
    )


def rdflib_graph(triples) -> rdflib.Graph:
    graph = rdflib.Graph()
    graph.parse(data=pyoxigraph.serialize(list(triples), format=pyoxigraph.RdfFormat.N_TRIPLES), format="nt")
    return graph


@pytest.fixture(scope="module")
def shapes() -> rdflib.Graph:
    graph = rdflib.Graph()
    for path in shape_files():
        graph.parse(path, format="turtle")
    return graph


@pytest.fixture(scope="module")
def furniture() -> rdflib.Graph:
    graph = rdflib.Graph()
    for path in ontology_files():
        graph.parse(path, format="turtle")
    return graph


@pytest.fixture(scope="module")
def complete(furniture: rdflib.Graph) -> rdflib.Graph:
    return rdflib_graph(map_batch(complete_batch())) + furniture


def results(data: rdflib.Graph, shapes: rdflib.Graph, shape: URIRef | None = None) -> set[tuple[str, str]]:
    """(source shape, component) of every pySHACL result."""
    if shape is not None:
        shapes = extract_shapes(shapes, [shape])
    _, report, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none", allow_infos=True,
                                    allow_warnings=True)
    return {(str(report.value(r, SH.sourceShape)), str(report.value(r, SH.sourceConstraintComponent)))
            for r in report.subjects(RDF.type, SH.ValidationResult)}


def test_a_complete_record_conforms_to_every_shape(complete: rdflib.Graph, shapes: rdflib.Graph) -> None:
    assert results(complete, shapes) == set()


# -- non-conforming examples: break exactly what a constraint asks for ---------------------------------------------


def focus_nodes(data: rdflib.Graph, shapes: rdflib.Graph, node_shape: URIRef) -> set:
    nodes = set()
    for cls in shapes.objects(node_shape, SH.targetClass):
        nodes |= set(data.subjects(RDF.type, cls))
    for predicate in shapes.objects(node_shape, SH.targetSubjectsOf):
        nodes |= set(data.subjects(predicate, None))
    return nodes


def wrong_value(component: URIRef, param, value):
    """A value that violates the constraint (the complete example's value satisfies it)."""
    if component == SH.datatype:
        return Literal(5) if param == XSD.string else Literal("not of the right type")
    if component == SH.pattern:
        return Literal("not a hash!")
    if component == SH.minInclusive:
        return Literal(-1.0)
    if component == SH.minLength:
        return Literal("ab")
    if component == SH.nodeKind:
        return Literal("not an IRI")
    return URIRef("urn:example:nothing-known")  # sh:class, sh:in


def break_constraint(data: rdflib.Graph, shapes: rdflib.Graph, node_shape, shape, component) -> rdflib.Graph:
    broken = rdflib.Graph() + data
    paths = [shapes.value(shape, SH.path)]
    if component == str(SH.OrConstraintComponent):  # remove what every alternative could be met by
        members = Collection(shapes, shapes.value(shape, SH["or"]))
        paths = [shapes.value(m, SH.path) for m in members if shapes.value(m, SH.minCount) is not None]
    for focus in focus_nodes(data, shapes, node_shape):
        for path in paths:
            values = list(broken.objects(focus, path))
            predicate = rdflib.URIRef(component)
            if predicate in (SH.MinCountConstraintComponent, SH.QualifiedMinCountConstraintComponent,
                             SH.OrConstraintComponent):
                broken.remove((focus, path, None))
            elif predicate == SH.MaxCountConstraintComponent:
                for extra in range(int(shapes.value(shape, SH.maxCount)) + 1):
                    same_kind = (Literal(f"extra {extra}", datatype=values[0].datatype)
                                 if values and isinstance(values[0], Literal) else URIRef(f"urn:example:{extra}"))
                    if values and isinstance(values[0], Literal) and values[0].datatype == XSD.dateTime:
                        same_kind = Literal(f"2020-01-0{extra + 1}T00:00:00Z", datatype=XSD.dateTime)
                    broken.add((focus, path, same_kind))
            else:
                key = {v: k for k, v in _COMPONENT_PARAMS.items()}[predicate]
                param = shapes.value(shape, key)
                for value in values:
                    broken.remove((focus, path, value))
                    broken.add((focus, path, wrong_value(key, param, value)))
    return broken


_COMPONENT_PARAMS = {p: URIRef(component_iri(p)) for p in CONSTRAINT_PARAMETERS}


def shape_constraints() -> list[tuple[str, str, str]]:
    """(node shape, source shape, component) for every constraint of every shipped shape."""
    graph = rdflib.Graph()
    for path in shape_files():
        graph.parse(path, format="turtle")
    out = []
    for node_shape in node_shapes(graph):
        for shape in [node_shape, *graph.objects(node_shape, SH.property)]:
            for predicate in sorted(set(graph.predicates(shape))):
                if predicate == SH.qualifiedValueShape:
                    out.append((str(node_shape), str(shape), str(SH.QualifiedMinCountConstraintComponent)))
                elif predicate in CONSTRAINT_PARAMETERS:
                    out.append((str(node_shape), str(shape), component_iri(predicate)))
    return out


CONSTRAINTS = shape_constraints()


@pytest.mark.parametrize(("node_shape", "shape", "component"), CONSTRAINTS,
                         ids=[f"{s.rsplit('#', 1)[-1]}-{c.rsplit('#', 1)[-1][:-19]}" for _, s, c in CONSTRAINTS])
def test_breaking_a_constraint_makes_its_shape_report(complete: rdflib.Graph, shapes: rdflib.Graph,
                                                      node_shape: str, shape: str, component: str) -> None:
    assert (shape, component) not in results(complete, shapes, URIRef(node_shape))  # the conforming example
    broken = break_constraint(complete, shapes, URIRef(node_shape), URIRef(shape), component)
    assert (shape, component) in results(broken, shapes, URIRef(node_shape))  # the non-conforming example


def test_every_shape_has_a_constraint_under_test() -> None:
    graph = rdflib.Graph()
    for path in shape_files():
        graph.parse(path, format="turtle")
    tested = {shape for _, shape, _ in CONSTRAINTS}
    declared = {str(s) for s in node_shapes(graph)} | {str(s) for s in graph.objects(None, SH.property)}
    untested = {s for s in declared - tested if list(graph.objects(URIRef(s), SH.property)) == []}
    assert untested == set()


# -- house rules ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", shape_files(), ids=lambda p: p.name)
def test_shape_file_describes_itself_and_every_shape(path: Path) -> None:
    graph = rdflib.Graph().parse(path, format="turtle")
    ontologies = list(graph.subjects(RDF.type, OWL.Ontology))
    assert len(ontologies) == 1, f"{path.name} needs one owl:Ontology header"
    assert graph.value(ontologies[0], rdflib.DCTERMS.title) and graph.value(ontologies[0], rdflib.DCTERMS.description)
    expected = SEVERITY_BY_FILE.get(path.stem)
    shapes = set(node_shapes(graph)) | set(graph.objects(None, SH.property))
    for shape in shapes:
        assert isinstance(shape, URIRef), f"{path.name}: shapes are named"
        for predicate in (SH.name, SH.description, SH.message, SH.severity, SH.order):
            assert graph.value(shape, predicate) is not None, f"{path.name}: {shape} has no {predicate}"
        if expected is not None:
            assert graph.value(shape, SH.severity) == expected, f"{path.name}: {shape} severity"
        if (shape, SH.path, None) in graph:
            assert graph.value(shape, SH.group) is not None, f"{path.name}: {shape} has no sh:group"
    if expected is not None:
        assert shapes, f"{path.name} declares no shapes"


@pytest.mark.parametrize("path", shape_files(), ids=lambda p: p.name)
def test_shape_files_use_only_shacl_terms(path: Path) -> None:
    graph = rdflib.Graph().parse(path, format="turtle")
    used = {t for triple in graph for t in triple if isinstance(t, URIRef) and t.startswith(str(SH))}
    unknown = set()
    for term in used:
        try:
            getattr(SH, term[len(str(SH)):])
        except AttributeError:
            unknown.add(term)
    assert unknown == set()


def test_groups_are_declared(shapes: rdflib.Graph) -> None:
    for group in set(shapes.objects(None, SH.group)):
        assert (group, RDF.type, SH.PropertyGroup) in shapes and shapes.value(group, SH.order) is not None


def test_nested_shapes_are_blank_nodes_only_inside_logical_constraints(shapes: rdflib.Graph) -> None:
    """Results name their source shape: top-level and property shapes are IRIs (checked above), the rest nest."""
    for node in set(shapes.subjects()):
        if isinstance(node, BNode) and (node, SH.path, None) in shapes:
            assert (None, SH.property, node) not in shapes
