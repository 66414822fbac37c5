"""The ontology files: they parse, every own term is documented and anchored in a standard, the alignment is
self-contained, OWL-RL finds no inconsistency, and docs/ontology.md matches its generator."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import owlrl
import pytest
from rdflib import OWL, RDF, RDFS, XSD, BNode, Graph, Literal, Namespace, URIRef

ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY_DIR = ROOT / "ontology"
EXPGRAPH = ONTOLOGY_DIR / "expgraph.ttl"
ALIGNMENT = ONTOLOGY_DIR / "alignment.ttl"
VOCABS = sorted((ONTOLOGY_DIR / "vocab").glob("*.ttl"))
ALL_FILES = [EXPGRAPH, ALIGNMENT, *VOCABS]

EG = Namespace("https://w3id.org/expgraph#")
PROV = Namespace("http://www.w3.org/ns/prov#")
MLS = Namespace("http://www.w3.org/ns/mls#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
SPDX = Namespace("http://spdx.org/rdf/terms#")
SCHEMA = Namespace("https://schema.org/")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
DQV = Namespace("http://www.w3.org/ns/dqv#")
ONTOLOGY_IRI = URIRef("https://w3id.org/expgraph")
#: owlrl reports inconsistencies as resources of this type (see owlrl.Closure.Core.closure).
OWLRL_ERRORS = Namespace("http://www.daml.org/2002/03/agents/agent-ont#")
BUILTIN = (str(RDF), str(RDFS), str(OWL), str(XSD))

CLASSES = {
    "Project": PROV.Collection,
    "Experiment": PROV.Plan,
    "Run": MLS.Run,
    "Result": PROV.Entity,
    "NegativeResult": EG.Result,
    "Hypothesis": PROV.Entity,
    "Environment": PROV.Entity,
    "ImportActivity": PROV.Activity,
    "ImportSource": PROV.Entity,
}
OBJECT_PROPERTIES = [
    "inProject",
    "inExperiment",
    "parentRun",
    "status",
    "hypothesis",
    "testsHypothesis",
    "aboutExperiment",
    "resultKind",
    "failureMode",
    "suspectedCause",
    "informs",
]
DATATYPE_PROPERTIES = {
    "tracker": XSD.string,
    "researchQuestion": None,
    "method": None,
    "expectedOutcome": None,
    "observedOutcome": None,
    "deviation": None,
    "lessonLearned": None,
    "errorText": XSD.string,
    "exitCode": XSD.integer,
    "deleted": XSD.boolean,
    "tag": XSD.string,
    "seed": XSD.integer,
    "step": XSD.integer,
    "timestamp": XSD.dateTime,
    "originalValue": XSD.string,
    "firstValue": XSD.double,
    "minValue": XSD.double,
    "maxValue": XSD.double,
    "valueCount": XSD.integer,
    "commitHash": XSD.string,
    "branch": XSD.string,
    "dirty": XSD.boolean,
    "pythonVersion": XSD.string,
    "package": XSD.string,
    "packageDigest": XSD.string,
    "containerImage": XSD.string,
    "hostname": XSD.string,
    "operatingSystem": XSD.string,
    "location": None,
    "sourceLocation": None,
    "toolVersion": XSD.string,
    "runCount": XSD.integer,
    "experimentCount": XSD.integer,
    "failureCount": XSD.integer,
    "negativeResultCount": XSD.integer,
    "warningCount": XSD.integer,
    "errorPattern": XSD.string,
    "rulePriority": XSD.integer,
    "runtimeSeconds": XSD.double,
    "refersToRun": XSD.string,
    "warning": XSD.string,
}
#: Outside terms the mapper writes; alignment.ttl must declare each with a type and a label.
OUTSIDE_TERMS = [
    PROV.End,
    PROV.startedAtTime,
    PROV.endedAtTime,
    PROV.wasAssociatedWith,
    PROV.used,
    PROV.generated,
    PROV.wasGeneratedBy,
    PROV.qualifiedUsage,
    PROV.Usage,
    PROV.entity,
    PROV.hadRole,
    PROV.Agent,
    PROV.Entity,
    PROV.Activity,
    PROV.Plan,
    PROV.Collection,
    MLS.hasInput,
    MLS.hasOutput,
    MLS.specifiedBy,
    MLS.hasValue,
    MLS.HyperParameter,
    MLS.HyperParameterSetting,
    MLS.EvaluationMeasure,
    MLS.ModelEvaluation,
    MLS.Model,
    MLS.Run,
    MLS.Experiment,
    DCAT.Dataset,
    DCAT.DatasetSeries,
    DCAT.inSeries,
    DCAT.version,
    DCAT.byteSize,
    SPDX.checksum,
    SPDX.Checksum,
    SPDX.algorithm,
    SPDX.checksumValue,
    SPDX.checksumAlgorithm_md5,
    SPDX.checksumAlgorithm_sha1,
    SPDX.checksumAlgorithm_sha256,
    SCHEMA.SoftwareSourceCode,
    SCHEMA.codeRepository,
    DCT.identifier,
    DCT.title,
    DCT.description,
    DQV.QualityMeasurement,
    DQV.computedOn,
    DQV.isMeasurementOf,
    DQV.value,
    DQV.Metric,
    SKOS.Concept,
    SKOS.ConceptScheme,
    SKOS.broader,
    SKOS.notation,
    SKOS.prefLabel,
    SKOS.inScheme,
]
ALIGNMENT_AXIOMS = [
    (MLS.Run, RDFS.subClassOf, PROV.Activity),
    (MLS.Model, RDFS.subClassOf, PROV.Entity),
    (MLS.HyperParameterSetting, RDFS.subClassOf, PROV.Entity),
    (MLS.ModelEvaluation, RDFS.subClassOf, PROV.Entity),
    (DCAT.Dataset, RDFS.subClassOf, PROV.Entity),
    (SCHEMA.SoftwareSourceCode, RDFS.subClassOf, PROV.Entity),
    (PROV.generated, OWL.inverseOf, PROV.wasGeneratedBy),
    (PROV.Entity, OWL.disjointWith, PROV.Activity),
]

#: A small catalog written the way the mapper writes it: must be consistent with the ontology. Doubles are
#: written as doubles (1.0e-1): a decimal 0.1 for an xsd:double property is an inconsistency under OWL-RL.
#: (owlrl 7 wrongly rejects "NaN"^^xsd:double, so the sample has no NaN; owlrl is not run on catalogs.)
SAMPLE_CATALOG = """
@prefix eg: <https://w3id.org/expgraph#> . @prefix prov: <http://www.w3.org/ns/prov#> .
@prefix mls: <http://www.w3.org/ns/mls#> . @prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> . @prefix spdx: <http://spdx.org/rdf/terms#> .
@prefix schema: <https://schema.org/> . @prefix dqv: <http://www.w3.org/ns/dqv#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <https://example.org/catalog/> .
@prefix rs: <https://w3id.org/expgraph/vocab/run-status/> .
@prefix fm: <https://w3id.org/expgraph/vocab/failure-mode/> .
@prefix rk: <https://w3id.org/expgraph/vocab/result-kind/> .
@prefix sc: <https://w3id.org/expgraph/vocab/suspected-cause/> .

ex:project a eg:Project ; rdfs:label "vision" ; prov:hadMember ex:exp .
ex:exp a eg:Experiment ; rdfs:label "lr sweep" ; dct:identifier "1" ; eg:inProject ex:project ;
    eg:researchQuestion "Does warm-up help?" ; eg:hypothesis ex:hyp ; eg:tag "team=cv" .
ex:hyp a eg:Hypothesis ; rdfs:label "warm-up helps" ; eg:expectedOutcome "higher accuracy" .
ex:run a eg:Run ; rdfs:label "run 1" ; dct:identifier "abc" ; eg:inExperiment ex:exp ; eg:parentRun ex:sweep ;
    eg:status rs:failed ; eg:tracker "mlflow" ; eg:seed 42 ; eg:exitCode 1 ; eg:runtimeSeconds 12.5e0 ;
    eg:deleted false ; eg:errorText "CUDA out of memory" ;
    prov:startedAtTime "2024-01-01T00:00:00Z"^^xsd:dateTime ; prov:endedAtTime "2024-01-01T01:00:00Z"^^xsd:dateTime ;
    prov:wasAssociatedWith ex:alice ; prov:used ex:data, ex:code, ex:env ;
    prov:qualifiedUsage [ a prov:Usage ; prov:entity ex:data ; prov:hadRole ex:training ] ;
    mls:hasInput ex:lr ; mls:hasOutput ex:acc ; prov:generated ex:model .
ex:sweep a eg:Run ; eg:status rs:finished .
ex:alice a prov:Agent ; rdfs:label "alice" .
ex:lr a mls:HyperParameterSetting ; mls:specifiedBy ex:lr-param ; mls:hasValue 0.001 ; eg:originalValue "1e-3" .
ex:lr-param a mls:HyperParameter ; rdfs:label "lr" .
ex:acc a mls:ModelEvaluation ; mls:specifiedBy ex:acc-measure ; mls:hasValue 5.0e-1 ; eg:step 10 ;
    eg:timestamp "2024-01-01T00:30:00Z"^^xsd:dateTime ; eg:firstValue 1.0e-1 ; eg:minValue 1.0e-1 ; eg:maxValue 5.0e-1 ;
    eg:valueCount 10 .
ex:acc-measure a mls:EvaluationMeasure ; rdfs:label "accuracy" .
ex:data a dcat:Dataset ; dcat:inSeries ex:cifar ; dcat:version "2" ; eg:location "s3://bucket/cifar" ;
    spdx:checksum [ a spdx:Checksum ; spdx:algorithm spdx:checksumAlgorithm_sha256 ; spdx:checksumValue "00ff" ] .
ex:cifar a dcat:DatasetSeries ; rdfs:label "cifar" .
ex:code a schema:SoftwareSourceCode ; schema:codeRepository <https://example.org/repo> ; eg:commitHash "abc123" ;
    eg:branch "main" ; eg:dirty true .
ex:env a eg:Environment ; eg:pythonVersion "3.11" ; eg:package "torch==2.3.0" ; eg:packageDigest "d1" ;
    eg:containerImage "img@sha256:00" ; eg:hostname "gpu1" ; eg:operatingSystem "Linux" .
ex:model a mls:Model ; prov:wasGeneratedBy ex:run ; dcat:byteSize 1024 .
ex:result a eg:NegativeResult ; prov:wasGeneratedBy ex:run ; eg:resultKind rk:execution-failure ;
    eg:failureMode fm:out-of-memory ; eg:suspectedCause sc:gpu-memory-management ; eg:aboutExperiment ex:exp ;
    eg:testsHypothesis ex:hyp ; eg:informs ex:exp2 ; eg:lessonLearned "use smaller batches" ;
    eg:observedOutcome "crashed" ; eg:deviation "none" .
ex:exp2 a eg:Experiment .
ex:import a eg:ImportActivity ; prov:used ex:source ; prov:startedAtTime "2024-02-01T00:00:00Z"^^xsd:dateTime ;
    eg:toolVersion "0.1.0" ; eg:runCount 2 ; eg:experimentCount 1 ; eg:failureCount 1 ; eg:negativeResultCount 1 ;
    eg:warningCount 0 .
ex:source a eg:ImportSource ; eg:tracker "mlflow" ; eg:sourceLocation "sqlite:///mlflow.db" .
ex:score a dqv:QualityMeasurement ; dqv:computedOn ex:run ; dqv:isMeasurementOf eg:completeness ; dqv:value 0.75 .
"""


def load(*paths: Path) -> Graph:
    graph = Graph()
    for path in paths:
        graph.parse(path, format="turtle")
    return graph


def inconsistencies(graph: Graph) -> list[str]:
    """Expand ``graph`` with owlrl's OWL-RL closure (in place) and return what it found inconsistent: owlrl's
    error messages, and any resource typed owl:Nothing."""
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(graph)
    problems = [str(graph.value(m, OWLRL_ERRORS.error)) for m in graph.subjects(RDF.type, OWLRL_ERRORS.ErrorMessage)]
    problems += [f"{s} is of type owl:Nothing" for s in graph.subjects(RDF.type, OWL.Nothing)]
    return sorted(problems)


@pytest.fixture(scope="module")
def own() -> Graph:
    return load(EXPGRAPH)


@pytest.fixture(scope="module")
def everything() -> Graph:
    return load(*ALL_FILES)


def own_terms(graph: Graph) -> set[URIRef]:
    """Every eg: IRI used anywhere in ``graph``."""
    return {t for triple in graph for t in triple if isinstance(t, URIRef) and str(t).startswith(str(EG))}


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_turtle_files_parse(path: Path) -> None:
    assert len(load(path)) > 0


def test_ontology_header(own: Graph) -> None:
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in own
    for predicate in (OWL.versionInfo, DCT.title, DCT.description, DCT.license, DCT.created):
        assert own.value(ONTOLOGY_IRI, predicate) is not None, predicate


def test_required_classes(own: Graph) -> None:
    for name, superclass in CLASSES.items():
        assert (EG[name], RDF.type, OWL.Class) in own, name
        assert (EG[name], RDFS.subClassOf, superclass) in own, name


def test_required_properties(own: Graph) -> None:
    for name in OBJECT_PROPERTIES:
        assert (EG[name], RDF.type, OWL.ObjectProperty) in own, name
    for name, datatype in DATATYPE_PROPERTIES.items():
        assert (EG[name], RDF.type, OWL.DatatypeProperty) in own, name
        assert own.value(EG[name], RDFS.range) == datatype, name
    assert (EG.completeness, RDF.type, DQV.Metric) in own


def test_every_own_term_is_declared_and_documented(own: Graph, everything: Graph) -> None:
    used = own_terms(everything)
    assert len(used) > 60
    problems = []
    for term in sorted(used):
        if own.value(term, RDF.type) is None:
            problems.append(f"{term}: not declared in expgraph.ttl")
            continue
        for predicate in (RDFS.label, RDFS.comment):
            values = list(own.objects(term, predicate))
            if not any(isinstance(v, Literal) and v.language == "en" for v in values):
                problems.append(f"{term}: no {predicate} in English")
        if (term, RDFS.isDefinedBy, ONTOLOGY_IRI) not in own:
            problems.append(f"{term}: no rdfs:isDefinedBy <{ONTOLOGY_IRI}>")
    assert problems == []


def test_every_own_class_specialises_a_standard_class(own: Graph) -> None:
    classes = [c for c in own.subjects(RDF.type, OWL.Class) if str(c).startswith(str(EG))]
    assert len(classes) >= len(CLASSES)
    for cls in classes:
        ancestors = set(own.transitive_objects(cls, RDFS.subClassOf)) - {cls}
        assert any(not str(a).startswith(str(EG)) for a in ancestors), f"{cls} has no superclass outside eg:"


def test_ranges_fit_the_kind_of_property(own: Graph) -> None:
    for prop in own.subjects(RDF.type, OWL.ObjectProperty):
        for rng in own.objects(prop, RDFS.range):
            assert not str(rng).startswith(str(XSD)), f"object property {prop} has datatype range {rng}"
    for prop in own.subjects(RDF.type, OWL.DatatypeProperty):
        for rng in own.objects(prop, RDFS.range):
            assert str(rng).startswith(str(XSD)), f"datatype property {prop} has non-datatype range {rng}"


def test_alignment_axioms() -> None:
    alignment = load(ALIGNMENT)
    for axiom in ALIGNMENT_AXIOMS:
        assert axiom in alignment, axiom
    assert (EG.Experiment, SKOS.closeMatch, MLS.Experiment) in load(EXPGRAPH)


def test_outside_terms_are_declared_in_the_alignment(everything: Graph) -> None:
    """Every outside term the ontology files use as a predicate, class or property, and every term the mapper
    writes, is declared with a type and an English label, so the files are self-contained for a reasoner."""
    alignment = load(ALIGNMENT)
    used = set(OUTSIDE_TERMS)
    for s, p, o in everything:
        used.add(p)
        if p in (RDF.type, RDFS.subClassOf, RDFS.domain, RDFS.range, RDFS.subPropertyOf, OWL.inverseOf):
            used.update(t for t in (s, o) if isinstance(t, URIRef))
    outside = {t for t in used if not str(t).startswith(("https://w3id.org/expgraph", *BUILTIN))}
    missing = sorted(
        str(t) for t in outside if alignment.value(t, RDF.type) is None or alignment.value(t, RDFS.label) is None
    )
    assert missing == []


def test_ontology_is_consistent_under_owl_rl(everything: Graph) -> None:
    graph = Graph()
    for triple in everything:
        graph.add(triple)
    # One fresh member per own class: a class made unsatisfiable by the axioms shows up as an error.
    for cls in set(graph.subjects(RDF.type, OWL.Class)):
        if str(cls).startswith(str(EG)):
            graph.add((BNode(), RDF.type, cls))
    assert inconsistencies(graph) == []


def test_sample_catalog_is_consistent_under_owl_rl(everything: Graph) -> None:
    """Domains and ranges agree with how the mapper uses the terms (a wrong domain makes a run an entity)."""
    graph = load(*ALL_FILES)
    graph.parse(data=SAMPLE_CATALOG, format="turtle")
    assert inconsistencies(graph) == []
    ex = Namespace("https://example.org/catalog/")
    assert (ex.run, RDF.type, PROV.Activity) in graph
    assert (ex.result, RDF.type, PROV.Entity) in graph
    assert (ex.run, PROV.generated, ex.result) in graph  # inverse of prov:wasGeneratedBy


def test_consistency_check_catches_a_contradiction() -> None:
    """The check above can fail: something both a run and a result is both an activity and an entity."""
    graph = load(*ALL_FILES)
    thing = URIRef("https://example.org/catalog/confused")
    graph.add((thing, RDF.type, EG.Run))
    graph.add((thing, RDF.type, EG.Result))
    problems = inconsistencies(graph)
    assert problems and any("confused" in p for p in problems)


def test_consistency_check_catches_a_misused_property() -> None:
    """A result given a run status (domain prov:Activity) is flagged: entities and activities are disjoint."""
    graph = load(*ALL_FILES)
    result = URIRef("https://example.org/catalog/result")
    graph.add((result, RDF.type, EG.Result))
    graph.add((result, EG.status, URIRef("https://w3id.org/expgraph/vocab/run-status/failed")))
    assert inconsistencies(graph) != []


def _generator():
    spec = importlib.util.spec_from_file_location("gen_ontology_doc", ROOT / "scripts" / "gen_ontology_doc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ontology_doc_is_up_to_date() -> None:
    expected = _generator().render(ROOT)
    current = (ROOT / "docs" / "ontology.md").read_text(encoding="utf-8")
    assert current == expected, "docs/ontology.md is out of date: run python scripts/gen_ontology_doc.py"


def test_ontology_doc_covers_every_own_term_and_concept(everything: Graph) -> None:
    text = (ROOT / "docs" / "ontology.md").read_text(encoding="utf-8")
    for term in own_terms(load(EXPGRAPH)):
        assert f"`eg:{str(term)[len(str(EG)) :]}`" in text, term
    for notation in everything.objects(None, SKOS.notation):
        assert f"`{notation}`" in text, notation
