"""What the list pages list: one spec per list (projects, experiments, runs, datasets, results) with its
facets (paths to the values counted), sort keys and shown columns; :mod:`expgraph.web.lists` builds the pages.

Everything here is a constant of the code: the facets' predicates and the columns' patterns are written into the
lists' queries, and only request values fill those queries' slots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pyoxigraph import NamedNode

from expgraph.namespaces import DCAT, EG, PROV, RDF, RDFS


@dataclass(frozen=True)
class Step:
    """One hop along a predicate (``inverse``: from object to subject)."""

    predicate: NamedNode
    inverse: bool = False
    objects: tuple[NamedNode, ...] = ()  # only these objects (for rdf:type, which is everywhere)


@dataclass(frozen=True)
class Facet:
    """A filter whose values are counted: the values reached from a member along ``path``."""

    name: str
    title: str
    path: tuple[Step, ...]
    literal: bool = False  # values are literals (tracker names), not IRIs


@dataclass(frozen=True)
class Column:
    """A shown value: ``pattern`` binds ``?v`` (and ``?vLabel`` for links) for ``?s``. A ``count`` column's
    pattern is a subquery with the page's members bound at its ``#@s`` slot, read apart and cached."""

    name: str
    title: str
    pattern: str
    link: bool = False
    count: bool = False


@dataclass(frozen=True)
class ListSpec:
    name: str
    title: str
    type: NamedNode
    sorts: Mapping[str, NamedNode]  # sort name -> predicate whose (lower-cased) value is the key
    default_sort: str
    columns: tuple[Column, ...]
    facets: tuple[Facet, ...] = field(default=())
    value_columns: bool = False  # metric and parameter columns, value filters (:mod:`expgraph.web.list_values`)


def _project(*hops: Step) -> Facet:
    return Facet("project", "Project", (*hops, Step(EG.inProject)))


_TRACKER = Facet("tracker", "Tracker", (Step(EG.tracker),), literal=True)
_STATUS_COL = Column("status", "Status", "?s eg:status/skos:notation ?v")
_NAME = {"name": RDFS.label}

SPECS: dict[str, ListSpec] = {
    spec.name: spec
    for spec in (
        ListSpec(
            "projects", "Projects", EG.Project, _NAME, "name",
            (Column("title", "Title", "?s dct:title ?v"),
             Column("experiments", "Experiments",
                    "{ SELECT ?s (COUNT(?e) AS ?v) WHERE {\n#@s\n?e eg:inProject ?s } GROUP BY ?s }", count=True),
             Column("description", "Description", "?s dct:description ?v")),
        ),
        ListSpec(
            "experiments", "Experiments", EG.Experiment, _NAME, "name",
            (Column("project", "Project", "?s eg:inProject ?v OPTIONAL { ?v rdfs:label ?vLabel }", link=True),
             Column("runs", "Runs",
                    "{ SELECT ?s (COUNT(?r) AS ?v) WHERE {\n#@s\n?r eg:inExperiment ?s } GROUP BY ?s }", count=True),
             Column("failed", "Failed", "{ SELECT ?s (COUNT(?r) AS ?v) WHERE {\n#@s\n?r eg:inExperiment ?s ; "
                    "eg:status/skos:notation ?st FILTER(?st IN (#@failed\n)) } GROUP BY ?s }", count=True),
             Column("hypothesis", "Hypothesis", "?s eg:hypothesis/rdfs:label ?v"),
             Column("tracker", "Tracker", "?s eg:tracker ?v")),
            (_project(), _TRACKER),
        ),
        ListSpec(
            "runs", "Runs", EG.Run, {"started": PROV.startedAtTime, "name": RDFS.label, "status": EG.status},
            "-started",
            (_STATUS_COL,
             Column("experiment", "Experiment", "?s eg:inExperiment ?v OPTIONAL { ?v rdfs:label ?vLabel }",
                    link=True),
             Column("started", "Started", "?s prov:startedAtTime ?v"),
             Column("agent", "Agent", "?s prov:wasAssociatedWith ?v OPTIONAL { ?v rdfs:label ?vLabel }", link=True),
             Column("failure_mode", "Failure mode",
                    "?r prov:wasGeneratedBy ?s ; eg:failureMode ?v OPTIONAL { ?v skos:prefLabel ?vLabel }", link=True),
             Column("tracker", "Tracker", "?s eg:tracker ?v")),
            (_project(Step(EG.inExperiment)),
             Facet("status", "Status", (Step(EG.status),)),
             Facet("failure_mode", "Failure mode", (Step(PROV.wasGeneratedBy, inverse=True), Step(EG.failureMode))),
             Facet("dataset", "Dataset", (Step(PROV.used), Step(DCAT.inSeries))),
             _TRACKER,
             Facet("agent", "Agent", (Step(PROV.wasAssociatedWith),))),
            value_columns=True,
        ),
        ListSpec(
            "datasets", "Datasets", DCAT.DatasetSeries, _NAME, "name",
            (Column("snapshots", "Snapshots",
                    "{ SELECT ?s (COUNT(?d) AS ?v) WHERE {\n#@s\n?d dcat:inSeries ?s } GROUP BY ?s }", count=True),
             Column("runs", "Runs", "{ SELECT ?s (COUNT(DISTINCT ?r) AS ?v) WHERE {\n#@s\n"
                    "?d dcat:inSeries ?s . ?r prov:used ?d } GROUP BY ?s }", count=True)),
            (_project(Step(DCAT.inSeries, inverse=True), Step(PROV.used, inverse=True), Step(EG.inExperiment)),),
        ),
        ListSpec(
            "results", "Results", EG.Result, _NAME, "name",
            (Column("kind", "Kind", "?s eg:resultKind ?v OPTIONAL { ?v skos:prefLabel ?vLabel }", link=True),
             Column("failure_mode", "Failure mode", "?s eg:failureMode ?v OPTIONAL { ?v skos:prefLabel ?vLabel }",
                    link=True),
             Column("cause", "Suspected cause", "?s eg:suspectedCause ?v OPTIONAL { ?v skos:prefLabel ?vLabel }",
                    link=True),
             Column("experiment", "Experiment",
                    "?s eg:aboutExperiment ?v OPTIONAL { ?v rdfs:label ?vLabel }", link=True)),
            (Facet("negative", "Type", (Step(RDF.type, objects=(EG.NegativeResult, EG.Result)),)),
             Facet("kind", "Kind", (Step(EG.resultKind),)),
             Facet("failure_mode", "Failure mode", (Step(EG.failureMode),)),
             Facet("cause", "Suspected cause", (Step(EG.suspectedCause),)),
             _project(Step(EG.aboutExperiment))),
        ),
    )
}
