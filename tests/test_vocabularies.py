"""The SKOS vocabularies in ontology/vocab/: fixed IRIs and notations, sound hierarchies, documented concepts,
and failure-mode classification rules that compile and classify sample error texts as expected."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rdflib import RDF, XSD, Graph, Literal, Namespace, URIRef

ROOT = Path(__file__).resolve().parents[1]
VOCAB_DIR = ROOT / "ontology" / "vocab"
BASE = "https://w3id.org/expgraph/vocab/"
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
DCT = Namespace("http://purl.org/dc/terms/")
EG = Namespace("https://w3id.org/expgraph#")

REQUIRED = {
    "run-status": {"queued", "running", "finished", "failed", "killed", "unknown"},
    "result-kind": {"supports", "refutes", "null-effect", "inconclusive", "execution-failure"},
    "failure-mode": {
        "out-of-memory",
        "numerical-instability",
        "divergence",
        "non-convergence",
        "timeout",
        "crash",
        "killed",
        "dependency-error",
        "data-not-found",
        "shape-mismatch",
        "overfitting",
        "underfitting",
        "data-leakage",
        "label-noise",
        "no-significant-effect",
        "below-baseline",
        "unknown",
        "resource-exhaustion",
        "numerical-problem",
        "execution-error",
        "data-problem",
        "generalisation-problem",
        "scientific-outcome",
        "gpu-error",
        "disk-full",
        "permission-denied",
        "keyboard-interrupt",
        "assertion-error",
        "config-error",
        "network-error",
    },
    "suspected-cause": {
        "model",
        "model-type-properties",
        "layers",
        "activation-function",
        "tensors-and-inputs",
        "wrong-tensor-shape",
        "wrong-input-type",
        "wrong-input-format",
        "training",
        "hyperparameters",
        "loss-function",
        "optimiser",
        "training-data-quality",
        "preprocessing",
        "validation-testing",
        "training-process",
        "gpu-usage",
        "api",
        "api-misuse",
        "deprecated-api",
        "data",
        "missing-data",
        "corrupted-data",
        "data-leakage",
        "label-noise",
        "environment",
        "dependency-version",
        "hardware",
        "configuration",
        "unknown",
    },
}
SCHEMES = tuple(REQUIRED)

#: (error text, expected failure-mode notation or None when no rule should match)
SAMPLE_ERRORS = [
    ("RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB", "out-of-memory"),
    ("torch.OutOfMemoryError: CUDA out of memory.", "out-of-memory"),
    ("Traceback (most recent call last):\n  ...\nMemoryError", "out-of-memory"),
    ("FloatingPointError: overflow encountered in exp", "numerical-instability"),
    ("ValueError: loss is NaN at step 300", "numerical-instability"),
    ("RuntimeError: Function 'LogSoftmaxBackward0' returned nan values... Non-finite loss", "numerical-instability"),
    ("ModuleNotFoundError: No module named 'torchvision'", "dependency-error"),
    ("ImportError: cannot import name 'soft_unicode' from 'markupsafe'", "dependency-error"),
    ("FileNotFoundError: [Errno 2] No such file or directory: 'data/train.csv'", "data-not-found"),
    ("RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x100 and 128x10)", "shape-mismatch"),
    ("RuntimeError: Error(s) in loading state_dict: size mismatch for fc.weight", "shape-mismatch"),
    ("Traceback (most recent call last):\n  ...\nKeyboardInterrupt", "keyboard-interrupt"),
    ("Traceback (most recent call last):\n  ...\nAssertionError: expected 3 channels", "assertion-error"),
    ("slurmstepd: error: *** JOB 123 ON n1 CANCELLED AT 2024-01-01T00:00:00 DUE TO TIME LIMIT ***", "timeout"),
    ("Killed", "killed"),
    ("Segmentation fault (core dumped)", "crash"),
    ("Traceback (most recent call last):\n  ...\nZeroDivisionError: division by zero", "crash"),
    ("OSError: [Errno 28] No space left on device", "disk-full"),
    ("RuntimeError: CUDA error: device-side assert triggered", "gpu-error"),
    ("PermissionError: [Errno 13] Permission denied: '/data/out'", "permission-denied"),
    ("requests.exceptions.ConnectionError: Connection refused", "network-error"),
    ("the run finished but accuracy did not improve", None),
]


def load(path: Path) -> Graph:
    graph = Graph()
    graph.parse(path, format="turtle")
    return graph


@pytest.fixture(scope="module")
def vocabs() -> dict[str, Graph]:
    return {name: load(VOCAB_DIR / f"{name}.ttl") for name in SCHEMES}


@pytest.fixture(scope="module")
def union(vocabs: dict[str, Graph]) -> Graph:
    graph = Graph()
    for g in vocabs.values():
        for triple in g:
            graph.add(triple)
    return graph


def scheme_iri(name: str) -> URIRef:
    return URIRef(BASE + name)


def concepts_of(graph: Graph) -> set[URIRef]:
    return set(graph.subjects(RDF.type, SKOS.Concept))


def test_vocab_files_are_exactly_the_schemes() -> None:
    assert sorted(p.stem for p in VOCAB_DIR.glob("*.ttl")) == sorted(SCHEMES)


@pytest.mark.parametrize("name", SCHEMES)
def test_scheme_is_described(vocabs: dict[str, Graph], name: str) -> None:
    graph, scheme = vocabs[name], scheme_iri(name)
    assert (scheme, RDF.type, SKOS.ConceptScheme) in graph
    assert list(graph.subjects(RDF.type, SKOS.ConceptScheme)) == [scheme]
    for predicate in (SKOS.prefLabel, DCT.description):
        assert any(isinstance(v, Literal) and v.language == "en" for v in graph.objects(scheme, predicate))


@pytest.mark.parametrize("name", SCHEMES)
def test_concepts_have_fixed_iris_and_required_notations(vocabs: dict[str, Graph], name: str) -> None:
    graph = vocabs[name]
    notations = {}
    for concept in concepts_of(graph):
        values = list(graph.objects(concept, SKOS.notation))
        assert len(values) == 1, f"{concept}: {len(values)} notations"
        notation = values[0]
        assert isinstance(notation, Literal) and notation.language is None
        assert notation.datatype in (None, XSD.string), f"{concept}: notation must be a plain string"
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", str(notation)), notation
        assert str(concept) == f"{BASE}{name}/{notation}"
        assert str(notation) not in notations, f"notation {notation} used twice in {name}"
        notations[str(notation)] = concept
    assert REQUIRED[name] <= set(notations), REQUIRED[name] - set(notations)


def test_every_concept_is_in_exactly_one_scheme(union: Graph) -> None:
    concepts = concepts_of(union)
    for concept in concepts:
        schemes = set(union.objects(concept, SKOS.inScheme))
        assert len(schemes) == 1, f"{concept} in {schemes}"
    assert set(union.subjects(SKOS.inScheme, None)) == concepts


def test_at_least_forty_concepts(union: Graph) -> None:
    assert len(concepts_of(union)) >= 40


def test_concepts_are_labelled_and_defined(union: Graph) -> None:
    for concept in concepts_of(union):
        labels = [v for v in union.objects(concept, SKOS.prefLabel) if v.language == "en"]
        assert len(labels) == 1, f"{concept}: needs exactly one English prefLabel"
        definitions = [v for v in union.objects(concept, SKOS.definition) if v.language == "en"]
        assert len(definitions) == 1 and len(str(definitions[0])) > 20, f"{concept}: needs a definition"


@pytest.mark.parametrize("name", SCHEMES)
def test_hierarchy_is_sound(vocabs: dict[str, Graph], name: str) -> None:
    graph, scheme = vocabs[name], scheme_iri(name)
    concepts = concepts_of(graph)
    tops = set(graph.objects(scheme, SKOS.hasTopConcept))
    assert tops == set(graph.subjects(SKOS.topConceptOf, scheme)), "hasTopConcept and topConceptOf disagree"
    roots = {c for c in concepts if graph.value(c, SKOS.broader) is None}
    assert tops == roots, "top concepts must be exactly the concepts without a broader concept"
    for concept in concepts:
        for broader in graph.objects(concept, SKOS.broader):
            assert broader in concepts, f"{concept} has broader {broader} outside the scheme"
        # No cycles: walking up from any concept ends at a top concept.
        seen, current = {concept}, concept
        while (parent := graph.value(current, SKOS.broader)) is not None:
            assert parent not in seen, f"skos:broader cycle through {concept}"
            seen.add(parent)
            current = parent
        assert current in tops


def test_failure_modes_have_two_levels(vocabs: dict[str, Graph]) -> None:
    graph = vocabs["failure-mode"]
    tops = set(graph.objects(scheme_iri("failure-mode"), SKOS.hasTopConcept))
    assert len(tops) >= 6
    for concept in concepts_of(graph) - tops:
        assert set(graph.objects(concept, SKOS.broader)) <= tops, f"{concept} is not a child of a top concept"


def test_suspected_cause_tops_follow_the_taxonomy(vocabs: dict[str, Graph]) -> None:
    graph = vocabs["suspected-cause"]
    tops = {
        str(graph.value(c, SKOS.notation)) for c in graph.objects(scheme_iri("suspected-cause"), SKOS.hasTopConcept)
    }
    assert {"model", "tensors-and-inputs", "training", "gpu-usage", "api", "data", "environment", "unknown"} <= tops


def test_close_matches_point_outside(union: Graph) -> None:
    for _, target in union.subject_objects(SKOS.closeMatch):
        assert not str(target).startswith("https://w3id.org/expgraph"), target


def classification_rules(graph: Graph) -> list[tuple[int, URIRef, list[re.Pattern[str]]]]:
    """(priority, concept, compiled patterns) for every concept with error patterns, lowest priority first."""
    rules = []
    for concept in set(graph.subjects(EG.errorPattern, None)):
        priority = graph.value(concept, EG.rulePriority)
        assert isinstance(priority, Literal) and priority.datatype == XSD.integer, f"{concept}: no rulePriority"
        patterns = [re.compile(str(p), re.IGNORECASE) for p in graph.objects(concept, EG.errorPattern)]
        rules.append((int(priority), concept, patterns))
    return sorted(rules, key=lambda rule: (rule[0], str(rule[1])))


def classify(rules: list[tuple[int, URIRef, list[re.Pattern[str]]]], text: str) -> URIRef | None:
    for _, concept, patterns in rules:
        if any(p.search(text) for p in patterns):
            return concept
    return None


def test_error_patterns_compile_and_are_ordered(vocabs: dict[str, Graph]) -> None:
    graph = vocabs["failure-mode"]
    for concept, pattern in graph.subject_objects(EG.errorPattern):
        try:
            re.compile(str(pattern), re.IGNORECASE)
        except re.error as error:  # pragma: no cover - the message is the point
            pytest.fail(f"{concept}: pattern {pattern!r} does not compile: {error}")
    rules = classification_rules(graph)
    assert len(rules) >= 10
    priorities = [priority for priority, _, _ in rules]
    assert len(priorities) == len(set(priorities)), "two rules share a priority: the order would be arbitrary"
    # Rules live on failure-mode concepts only, never on the schemes' top concepts.
    tops = set(graph.objects(scheme_iri("failure-mode"), SKOS.hasTopConcept))
    assert not {concept for _, concept, _ in rules} & tops


@pytest.mark.parametrize(("text", "expected"), SAMPLE_ERRORS, ids=[e or "none" for _, e in SAMPLE_ERRORS])
def test_sample_errors_classify(vocabs: dict[str, Graph], text: str, expected: str | None) -> None:
    concept = classify(classification_rules(vocabs["failure-mode"]), text)
    got = None if concept is None else str(concept).rsplit("/", 1)[1]
    assert got == expected


def test_project_rule_can_take_precedence(vocabs: dict[str, Graph]) -> None:
    """A project's own concept with a lower priority wins over ours, as the file header describes."""
    graph = Graph()
    for triple in vocabs["failure-mode"]:
        graph.add(triple)
    ours = classify(classification_rules(graph), "RuntimeError: DataLoader worker (pid 42) is killed by signal")
    assert str(ours).endswith("/killed")
    graph.parse(data=header_example("failure-mode"), format="turtle")
    theirs = classify(classification_rules(graph), "RuntimeError: DataLoader worker (pid 42) is killed by signal")
    assert str(theirs) == "https://example.org/our-lab/vocab/dataloader-worker-crash"


def header_example(name: str) -> str:
    """The Turtle example in the leading comment of a vocabulary file (the lines indented in the comment)."""
    lines = []
    for line in (VOCAB_DIR / f"{name}.ttl").read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("#     "):
            lines.append(line[6:])
    return "\n".join(lines)


@pytest.mark.parametrize("name", SCHEMES)
def test_header_example_extends_a_shipped_concept(vocabs: dict[str, Graph], name: str) -> None:
    example = Graph()
    example.parse(data=header_example(name), format="turtle")
    concepts = list(example.subjects(RDF.type, SKOS.Concept))
    assert len(concepts) == 1
    broader = example.value(concepts[0], SKOS.broader)
    assert broader in concepts_of(vocabs[name]), f"the example's skos:broader {broader} is not one of ours"
