"""Completeness scores: the share of should-constraints (sh:Warning) a record meets, stored as DQV measurements.

A focus node's score is met / applicable over the warning constraints of the shapes that target it. A run's
score is its own; an experiment's is pooled over the experiment, its runs, the results about it and the inputs
its runs used (dataset snapshots, code versions, environments); a project's over itself and its experiments'
pools. Pooling (sum of met over sum of applicable) weighs each constraint the same, so an experiment of 100 runs
is not outweighed by its own two fields. Scores are written into their own graph (``graph/quality``) as
``dqv:QualityMeasurement`` so that saved queries and pages can read them.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from pyoxigraph import Literal, NamedNode, QuerySolutions, Triple
from rdflib.namespace import SH

from expgraph.mapping import double
from expgraph.namespaces import DQV, EG, GRAPHS, RDF, RDFS, sparql_prologue
from expgraph.store import Store
from expgraph.validation.engine import ValidationReport

QUALITY_GRAPH = NamedNode(GRAPHS + "quality")
COMPLETENESS = EG.completeness
_MEASUREMENT_BASE = GRAPHS + "quality/measurement/"

MEMBERSHIP_QUERY = sparql_prologue() + """
SELECT ?node ?kind ?experiment ?project WHERE {
  { ?node a eg:Run . BIND("run" AS ?kind)
    OPTIONAL { SELECT ?node ?experiment WHERE { ?node eg:inExperiment ?experiment } } }
  UNION { ?node a eg:Experiment . BIND("experiment" AS ?kind) BIND(?node AS ?experiment)
          OPTIONAL { ?node eg:inProject ?project } }
  UNION { ?node a eg:Project . BIND("project" AS ?kind) BIND(?node AS ?project) }
  UNION { { SELECT ?node WHERE { ?node a eg:Result } } BIND("result" AS ?kind)
          { { SELECT ?node ?experiment WHERE { ?node eg:aboutExperiment ?experiment } }
            UNION { { SELECT ?node ?run WHERE { ?node prov:wasGeneratedBy ?run } }
                    { SELECT ?run ?experiment WHERE { ?run eg:inExperiment ?experiment } } } } }
  UNION { { SELECT DISTINCT ?node ?experiment WHERE {
              { SELECT ?run ?experiment WHERE { ?run eg:inExperiment ?experiment } }
              { SELECT ?run ?node WHERE { ?run prov:used ?node } } } }
          BIND("input" AS ?kind) }
}
"""
#: Each pair of links (a run's experiment, a result's run, an input's run) is read in one pass and joined by hash
#: (sub-SELECTs), about twice as fast at 100k runs as one lookup per row; an input used by many runs of one
#: experiment comes once (DISTINCT). Rows are read by position (by name costs 3-5x per value).


@dataclass(frozen=True)
class Tally:
    met: int
    applicable: int

    @property
    def score(self) -> float | None:
        return self.met / self.applicable if self.applicable else None

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.met + other.met, self.applicable + other.applicable)


@dataclass
class Scores:
    nodes: dict[str, Tally] = field(default_factory=dict)  # every focus node with warning constraints
    runs: dict[str, Tally] = field(default_factory=dict)
    experiments: dict[str, Tally] = field(default_factory=dict)
    projects: dict[str, Tally] = field(default_factory=dict)
    project_names: dict[str, str] = field(default_factory=dict)  # project IRI → dct:identifier
    #: node → the projects it belongs to (for per-project reports and filters).
    project_of: dict[str, set[str]] = field(default_factory=dict)

    def overall(self) -> Tally:
        return sum(self.nodes.values(), Tally(0, 0))


def node_tallies(report: ValidationReport) -> dict[str, Tally]:
    """met / applicable warning constraints for every focus node of a shape with warnings."""
    warning = str(SH.Warning)
    applicable: dict[str, int] = defaultdict(int)
    for shape, nodes in report.focus_nodes.items():
        count = len({(s, c) for s, c, severity in report.constraints[shape] if severity == warning})
        for node in nodes:
            applicable[node] += count
    failed: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for result in report.results:
        if result.severity == warning:
            failed[result.focus].add((result.shape, result.component))
    return {node: Tally(total - len(failed.get(node, ())), total) for node, total in applicable.items()}


def compute_scores(store: Store, report: ValidationReport, graphs: list[NamedNode] | None = None) -> Scores:
    """Score every focus node, and pool them per run, experiment and project."""
    scores = Scores(nodes=node_tallies(report))
    # graphs=None: the whole catalog at once, the store's fastest path (instances live in import graphs only)
    rows = store.query(MEMBERSHIP_QUERY, graphs=graphs)
    assert isinstance(rows, QuerySolutions)
    empty = Tally(0, 0)
    experiment_project: dict[str, set[str]] = defaultdict(set)
    experiment_members: dict[str, set[str]] = defaultdict(set)
    kinds: dict[str, str] = {}
    assert [variable.value for variable in rows.variables] == ["node", "kind", "experiment", "project"]
    for node_term, kind_term, experiment, project in rows:
        node, kind = node_term.value, kind_term.value
        kinds[node] = kind
        if experiment is not None:
            experiment_members[experiment.value].add(node)
        if kind == "experiment" and project is not None:
            experiment_project[node].add(project.value)
        elif kind == "project":
            scores.projects.setdefault(node, scores.nodes.get(node, empty))
    for node, kind in kinds.items():
        if kind == "run":
            scores.runs[node] = scores.nodes.get(node, empty)
    for experiment, members in experiment_members.items():
        if kinds.get(experiment) != "experiment":
            continue
        pooled = sum((scores.nodes.get(m, empty) for m in members), empty)
        scores.experiments[experiment] = pooled
        for project in experiment_project.get(experiment, ()):
            scores.projects[project] = scores.projects.get(project, empty) + pooled
            for member in members:
                scores.project_of.setdefault(member, set()).add(project)
    for project in scores.projects:
        scores.project_of.setdefault(project, set()).add(project)
    scores.project_names = project_names(store)
    return scores


def project_names(store: Store) -> dict[str, str]:
    rows = store.select(sparql_prologue() + "SELECT ?p ?name WHERE { ?p a eg:Project ; dct:identifier ?name }")
    return {row["p"].value: row["name"].value for row in rows}


def project_iri(store: Store, name: str) -> NamedNode | None:
    """A project by its name (dct:identifier) or IRI; None when the catalog has no such project."""
    rows = store.select(sparql_prologue() + "SELECT ?p ?name WHERE { ?p a eg:Project . "
                        "{ ?p dct:identifier ?name } UNION { FILTER(STR(?p) = ?name) } } LIMIT 1",
                        name=Literal(name))
    return rows[0]["p"] if rows else None


def measurement(node: str) -> NamedNode:
    return NamedNode(_MEASUREMENT_BASE + hashlib.sha256(node.encode()).hexdigest()[:32])


_METRIC = (Triple(COMPLETENESS, RDF.type, DQV.Metric),
           Triple(COMPLETENESS, RDFS.label, Literal("completeness", language="en")),
           Triple(COMPLETENESS, RDFS.comment, Literal("Share of the should-constraints (sh:Warning shapes) a record "
                                                      "meets, from 0 to 1.", language="en")))
#: The quality graph is patched in place when at most this share of its statements changes (else rewritten).
PATCH_SHARE = 0.5


def stored_values(scores: Scores) -> dict[str, float]:
    """Each scored run, experiment and project with the value its measurement holds (rounded as stored)."""
    return {node: round(tally.score, 6) for group in (scores.runs, scores.experiments, scores.projects)
            for node, tally in sorted(group.items()) if tally.score is not None}


def _measurement(node: str, value: Literal | float) -> list[str]:
    """The four N-Triples statements (without the final `` .``) of one node's completeness measurement."""
    m = str(measurement(node))
    text = value if isinstance(value, Literal) else double(value)
    return [f"{m} {RDF.type} {DQV.QualityMeasurement}", f"{m} {DQV.computedOn} {NamedNode(node)}",
            f"{m} {DQV.isMeasurementOf} {COMPLETENESS}", f"{m} {DQV.value} {text}"]


def measurement_statements(scores: Scores) -> Iterator[str]:
    """The DQV description of every run, experiment and project score as N-Triples statements (without the final
    `` .``, as ``str(Triple)`` prints them): the store loads text without a term object per triple. Deterministic,
    so unchanged scores are recognised (see :func:`write_scores`)."""
    yield from (str(triple) for triple in _METRIC)
    for node, value in stored_values(scores).items():
        yield from _measurement(node, value)


def write_scores(store: Store, scores: Scores) -> bool:
    """Replace the quality graph with these scores; False when nothing changed.

    The statements' digest is kept as the graph's source digest, so that unchanged scores (a second ``validate``
    of an unchanged catalog) cost no write: the store would otherwise stage a full copy to find it unchanged.
    Changed scores patch the graph in place (:func:`_patch`) when few changed, as after an import.
    """
    statements = list(measurement_statements(scores))
    digest = hashlib.sha256(("\n".join(statements) + "\n").encode()).hexdigest()
    current = store.active_graphs().get(QUALITY_GRAPH.value)
    if current is not None and current.source_digest == digest:
        return False
    if current is not None and current.digest == current.source_digest and _patch(store, scores, statements, digest):
        return True
    return store.replace_statements(QUALITY_GRAPH, statements, checked=True, source_digest=digest)


def _patch(store: Store, scores: Scores, statements: list[str], digest: str) -> bool:
    """Write only the measurements that changed into the quality graph, in one transaction; False when too many
    did (or the store cannot patch). Replacing the graph would drop its whole previous version, which the store does
    a quad at a time. Called only when the graph holds what an earlier write left (its content digest is the
    digest of statements this module wrote), so its measurements describe it completely."""
    rows = store.query(sparql_prologue() + "SELECT ?m ?value WHERE { ?m dqv:value ?value }", graphs=[QUALITY_GRAPH])
    assert isinstance(rows, QuerySolutions)
    before = {m.value: value for m, value in rows}  # by measurement: a join to each node costs twice as much
    after = {measurement(node).value: (node, value) for node, value in stored_values(scores).items()}
    gone = before.keys() - after.keys()
    if len(gone) > 1000:
        return False
    removed, added = [], []
    for m in gone:
        node = store.select(sparql_prologue() + "SELECT ?m ?node WHERE { ?m dqv:computedOn ?node }",
                            graphs=[QUALITY_GRAPH], m=NamedNode(m))[0]["node"]
        removed += _measurement(node.value, before[m])
    for m, (node, value) in after.items():
        if m not in before:
            added += _measurement(node, value)
        elif float(before[m].value) != value:
            removed.append(_measurement(node, before[m])[3])
            added.append(_measurement(node, value)[3])
    total = store.active_graphs()[QUALITY_GRAPH.value].triples
    too_many = len(removed) + len(added) > PATCH_SHARE * len(statements)
    if too_many or total - len(removed) + len(added) != len(statements):
        return False
    return store.patch_statements(QUALITY_GRAPH, removed, added, digest=digest, count=len(statements),
                                  source_digest=digest)
