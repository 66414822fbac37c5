"""Data of one resource's page: a run, an experiment, a dataset, a failure-mode concept, or anything else.

Each builder takes the resource as a term and runs a few small queries with it bound, so a page costs a handful
of index lookups however large the catalog is.
"""

from __future__ import annotations

from typing import Any

from pyoxigraph import NamedNode

from expgraph.namespaces import DCAT, EG, SKOS
from expgraph.store import Store
from expgraph.store.base import Term
from expgraph.web.reading import FAILED, own_graphs, query, select
from expgraph.web.terms import node, plain

_TYPES = query("SELECT ?t WHERE {\n#@s\n?s a ?t }")
_MENTIONED = query("SELECT ?p WHERE {\n#@s\n{ ?s ?p ?o } UNION { ?o ?p ?s } } LIMIT 1")
_PROPERTIES = query("""SELECT ?p ?pLabel ?o ?oLabel WHERE {
  #@s
  ?s ?p ?o OPTIONAL { ?p rdfs:label ?pLabel } OPTIONAL { ?o rdfs:label|skos:prefLabel ?oLabel } } LIMIT 500""")
_LABEL = query("SELECT ?l WHERE {\n#@s\n?s rdfs:label|skos:prefLabel|dct:title ?l } LIMIT 1")
_INCOMING = query("""SELECT ?x ?xLabel ?p WHERE {
  #@s
  ?x ?p ?s OPTIONAL { ?x rdfs:label ?xLabel } } LIMIT 100""")


def kind_of(store: Store, iri: NamedNode, types: set[str] | None = None) -> tuple[str | None, bool]:
    """The page family for a resource and whether the store knows it at all (as subject or object); ``types``
    when the caller has read the resource's types already."""
    if types is None:
        types = {row["t"].value for row in select(store, _TYPES, s=iri)}
    for kind, cls in (("run", EG.Run), ("experiment", EG.Experiment), ("dataset", DCAT.DatasetSeries),
                      ("concept", SKOS.Concept), ("result", EG.Result)):
        if cls.value in types:
            return kind, True
    if DCAT.Dataset.value in types:
        return "snapshot", True
    known = bool(types) or bool(select(store, _MENTIONED, s=iri))
    return None, known


def properties(store: Store, iri: NamedNode) -> list[dict[str, Any]]:
    """Every statement about a resource, for the generic page (and the tail of the specific ones)."""
    rows = select(store, _PROPERTIES, s=iri)
    return [{"property": node(row, "p"), "value": node(row, "o") if isinstance(row["o"], NamedNode) else None,
             "text": None if isinstance(row["o"], NamedNode) else plain(row["o"])} for row in rows]


def generic(store: Store, iri: NamedNode) -> dict[str, Any]:
    label = select(store, _LABEL, s=iri)
    incoming = select(store, _INCOMING, s=iri)
    return {"kind": "resource", "iri": iri.value, "label": label[0]["l"].value if label else iri.value,
            "properties": properties(store, iri),
            "incoming": [{"subject": node(r, "x"), "property": r["p"].value} for r in incoming]}


#: What a result page or list shows of each result ``?x`` (the patterns after ``?x a eg:Result``).
_RESULT_DESCRIPTION = """OPTIONAL { ?x rdfs:label ?xLabel }
  BIND(EXISTS { ?x a eg:NegativeResult } AS ?negative)
  OPTIONAL { ?x eg:resultKind ?kind OPTIONAL { ?kind skos:prefLabel ?kindLabel } }
  OPTIONAL { ?x eg:failureMode ?mode OPTIONAL { ?mode skos:prefLabel ?modeLabel } }
  OPTIONAL { ?x eg:suspectedCause ?cause OPTIONAL { ?cause skos:prefLabel ?causeLabel } }
  OPTIONAL { ?x eg:observedOutcome ?observed } OPTIONAL { ?x eg:lessonLearned ?lesson }
  OPTIONAL { ?x eg:errorText ?xError }"""
_RESULT_COLUMNS = "?x ?xLabel ?negative ?kind ?kindLabel ?mode ?modeLabel ?cause ?causeLabel ?observed ?lesson ?xError"

def _experiment_results(store: Store, iri: NamedNode) -> list[dict[str, Any]]:
    """Over every graph: a hand-written record about the experiment's runs lives in its own source."""
    found = select(store, _EXPERIMENT_RESULT_IRIS, s=iri)
    results = list(dict.fromkeys(row["x"].value for row in found))[:MAX_RESULTS]
    if not results:
        return []
    return _merge_results(select(store, _RESULT_DETAILS, x=[NamedNode(r) for r in results]))


def _merge_results(rows: list[dict]) -> list[dict[str, Any]]:
    """One entry per result; lessons (the only many-valued field) gathered."""
    results: dict[str, dict[str, Any]] = {}
    for row in rows:
        item = results.setdefault(row["x"].value, {
            "result": node(row, "x"), "negative": plain(row.get("negative")), "kind": node(row, "kind"),
            "failure_mode": node(row, "mode"), "suspected_cause": node(row, "cause"),
            "observed": plain(row.get("observed")), "error": plain(row.get("xError")), "lessons": []})
        lesson = plain(row.get("lesson"))
        if lesson and lesson not in item["lessons"]:
            item["lessons"].append(lesson)
    return list(results.values())


_EXPERIMENT = query("""SELECT ?label ?project ?projectLabel ?description ?question ?method ?hypothesis ?expected
  ?tracker WHERE {
  #@s
  OPTIONAL { ?s rdfs:label ?label }
  OPTIONAL { ?s eg:inProject ?project OPTIONAL { ?project rdfs:label ?projectLabel } }
  OPTIONAL { ?s dct:description ?description } OPTIONAL { ?s eg:researchQuestion ?question }
  OPTIONAL { ?s eg:method ?method } OPTIONAL { ?s eg:tracker ?tracker }
  OPTIONAL { ?s eg:hypothesis ?h . ?h rdfs:label ?hypothesis OPTIONAL { ?h eg:expectedOutcome ?expected } } }
  LIMIT 1""")

_EXPERIMENT_RUNS = query("""SELECT ?run ?runLabel ?status ?started WHERE {
  #@s
  ?run eg:inExperiment ?s .
  OPTIONAL { ?run rdfs:label ?runLabel } OPTIONAL { ?run eg:status/skos:notation ?status }
  OPTIONAL { ?run prov:startedAtTime ?started } } ORDER BY ?started STR(?run) LIMIT 500""")

#: Parameters and metrics of some runs (``#@run``: a VALUES block, repeated inside each branch because
#: pyoxigraph evaluates a UNION branch before joining an outer binding, which is many times slower).
_VALUES = query("""SELECT ?run ?kind ?key ?value WHERE {
  { #@run
    ?run mls:hasInput ?x . ?x mls:specifiedBy/rdfs:label ?key ; mls:hasValue ?value BIND("param" AS ?kind) }
  UNION
  { #@run
    ?run mls:hasOutput ?x . ?x mls:specifiedBy/rdfs:label ?key ; mls:hasValue ?value BIND("metric" AS ?kind) }
}""")


def run_values(store: Store, runs: list[NamedNode], graphs: list[NamedNode] | None = None) -> list[dict]:
    return select(store, _VALUES, graphs=graphs, run=runs) if runs else []

#: Results about an experiment (about it, generated by its runs, or naming its runs as ``tracker:id`` as hand-written
#: records do): found first (index lookups), then described with their IRIs bound. As one
#: query (a UNION joined with ``?x a eg:Result``) pyoxigraph scanned every result first.
_EXPERIMENT_RESULT_IRIS = query("""SELECT ?x WHERE { { #@s
  ?x eg:aboutExperiment ?s }
  UNION { #@s
  ?r eg:inExperiment ?s . ?x prov:wasGeneratedBy ?r }
  UNION { #@s
  ?r eg:inExperiment ?s ; eg:tracker ?tracker ; dct:identifier ?id BIND(CONCAT(?tracker, ":", ?id) AS ?ref)
  ?x eg:refersToRun ?ref } }""")
_RESULT_DETAILS = query(f"""SELECT {_RESULT_COLUMNS} WHERE {{
  #@x
  ?x a eg:Result . {_RESULT_DESCRIPTION} }}""")
MAX_RESULTS = 500

_INFORMED_BY = query("""SELECT ?x ?xLabel WHERE {
  #@s
  ?x eg:informs ?s OPTIONAL { ?x rdfs:label ?xLabel } }""")


def table(runs: list[dict[str, Any]], cells: list[dict]) -> dict[str, Any]:
    """Runs as rows, parameters and metrics as columns; ``differs`` marks columns whose values are not all equal."""
    by_run: dict[str, dict[str, Any]] = {r["run"]["iri"]: {**r, "params": {}, "metrics": {}} for r in runs}
    keys: dict[str, set[str]] = {"param": set(), "metric": set()}
    for cell in cells:
        if cell["run"].value in by_run:
            group = "params" if cell["kind"].value == "param" else "metrics"
            by_run[cell["run"].value][group][cell["key"].value] = plain(cell["value"])
            keys[cell["kind"].value].add(cell["key"].value)
    rows = list(by_run.values())

    def columns(kind: str, group: str) -> list[dict[str, Any]]:
        return [{"key": key, "differs": len({repr(r[group].get(key)) for r in rows}) > 1}
                for key in sorted(keys[kind])]

    return {"rows": rows, "params": columns("param", "params"), "metrics": columns("metric", "metrics")}


def experiment(store: Store, iri: NamedNode) -> dict[str, Any]:
    graphs = own_graphs(store, iri)
    head = select(store, _EXPERIMENT, graphs=graphs, s=iri)
    row = head[0] if head else {}
    runs = [{"run": node(r, "run"), "status": plain(r.get("status")), "started": plain(r.get("started"))}
            for r in select(store, _EXPERIMENT_RUNS, graphs=graphs, s=iri)]
    failed = sum(1 for r in runs if r["status"] in FAILED)
    return {
        "kind": "experiment", "iri": iri.value, "label": plain(row.get("label")) or iri.value,
        "project": node(row, "project"), "description": plain(row.get("description")),
        "research_question": plain(row.get("question")), "method": plain(row.get("method")),
        "tracker": plain(row.get("tracker")),
        "hypothesis": {"text": plain(row["hypothesis"]), "expected": plain(row.get("expected"))}
        if "hypothesis" in row else None,
        "run_count": len(runs), "failed_count": failed,
        "table": table(runs, run_values(store, [NamedNode(r["run"]["iri"]) for r in runs], graphs)),
        "results": _experiment_results(store, iri),
        "informed_by": [node(r, "x") for r in select(store, _INFORMED_BY, s=iri)],  # from any source
    }


_SNAPSHOTS = query("""SELECT ?d ?dLabel ?version ?checksum WHERE {
  #@s
  ?d dcat:inSeries ?s .
  OPTIONAL { ?d rdfs:label ?dLabel } OPTIONAL { ?d dcat:version ?version }
  OPTIONAL { ?d spdx:checksum/spdx:checksumValue ?checksum } } ORDER BY ?version ?d""")
_SNAPSHOT_RUNS = query("""SELECT ?d ?run ?status WHERE {
  #@d
  ?run prov:used ?d OPTIONAL { ?run eg:status/skos:notation ?status } }""")
_PLAIN_LABEL = query("SELECT ?l WHERE {\n#@s\n?s rdfs:label ?l } LIMIT 1")
_RUN_LABELS = query("SELECT ?r ?l WHERE {\n#@r\n?r rdfs:label ?l }")
MAX_DATASET_RUNS = 2000


def dataset(store: Store, iri: NamedNode) -> dict[str, Any]:
    """Each snapshot of a dataset with its failure rate and the runs that used it (the first 2000 listed)."""
    label = select(store, _PLAIN_LABEL, s=iri)
    snapshots: dict[str, dict[str, Any]] = {}
    for row in select(store, _SNAPSHOTS, s=iri):
        snapshots.setdefault(row["d"].value, {
            "snapshot": node(row, "d"), "version": plain(row.get("version")),
            "checksum": plain(row.get("checksum")), "run_count": 0, "failed": 0, "runs": []})
    shown: list[tuple[str, str, str | None]] = []
    if snapshots:
        for row in select(store, _SNAPSHOT_RUNS, d=[NamedNode(d) for d in snapshots]):
            snap, status = snapshots[row["d"].value], plain(row.get("status"))
            snap["run_count"] += 1
            snap["failed"] += status in FAILED
            if len(shown) < MAX_DATASET_RUNS:
                shown.append((row["d"].value, row["run"].value, status))
    labels = {row["r"].value: row["l"].value
              for row in select(store, _RUN_LABELS, r=[NamedNode(r) for _, r, _ in shown])} if shown else {}
    for d, run_iri, status in sorted(shown, key=lambda item: labels.get(item[1], item[1])):
        snapshots[d]["runs"].append({"run": {"iri": run_iri, "label": labels.get(run_iri, run_iri)},
                                     "status": status})
    for snap in snapshots.values():
        snap["failure_rate"] = snap["failed"] / snap["run_count"] if snap["run_count"] else None
    total = sum(s["run_count"] for s in snapshots.values())
    failed = sum(s["failed"] for s in snapshots.values())
    return {"kind": "dataset", "iri": iri.value, "label": label[0]["l"].value if label else iri.value,
            "snapshots": list(snapshots.values()), "run_count": total, "failed_count": failed,
            "failure_rate": failed / total if total else None}


_CONCEPT = query("""SELECT ?label ?notation ?definition ?scheme ?schemeLabel WHERE {
  #@s
  OPTIONAL { ?s skos:prefLabel ?label } OPTIONAL { ?s skos:notation ?notation }
  OPTIONAL { ?s skos:definition ?definition }
  OPTIONAL { ?s skos:inScheme ?scheme OPTIONAL { ?scheme skos:prefLabel|rdfs:label ?schemeLabel } } } LIMIT 1""")

_BROADER = query("""SELECT ?x ?xLabel WHERE {
  #@s
  ?s skos:broader+ ?x OPTIONAL { ?x skos:prefLabel ?xLabel } }""")
_NARROWER = query("""SELECT ?x ?xLabel ?parent WHERE {
  #@s
  ?x skos:broader+ ?s ; skos:broader ?parent
  OPTIONAL { ?x skos:prefLabel ?xLabel } } ORDER BY ?xLabel""")
_CONCEPT_RESULTS = query("""SELECT ?x ?xLabel ?mode ?modeLabel ?project ?projectLabel ?run ?runLabel WHERE {
  #@s
  ?x eg:failureMode|eg:suspectedCause|eg:resultKind ?mode . ?mode skos:broader* ?s .
  OPTIONAL { ?x rdfs:label ?xLabel } OPTIONAL { ?mode skos:prefLabel ?modeLabel }
  OPTIONAL { ?x prov:wasGeneratedBy ?run OPTIONAL { ?run rdfs:label ?runLabel } }
  OPTIONAL { ?x (eg:aboutExperiment|prov:wasGeneratedBy/eg:inExperiment)/eg:inProject ?project
             OPTIONAL { ?project rdfs:label ?projectLabel } } } LIMIT 1000""")


def concept(store: Store, iri: NamedNode) -> dict[str, Any]:
    """A SKOS concept: where it sits in its hierarchy and every result filed under it or a narrower concept."""
    head = select(store, _CONCEPT, s=iri)
    row = head[0] if head else {}
    results: dict[str, dict[str, Any]] = {}
    for r in select(store, _CONCEPT_RESULTS, s=iri):
        item = results.setdefault(r["x"].value, {"result": node(r, "x"), "concept": node(r, "mode"),
                                                 "run": node(r, "run"), "project": node(r, "project")})
        item["project"] = item["project"] or node(r, "project")
    projects = sorted({r["project"]["label"] for r in results.values() if r["project"]})
    return {
        "kind": "concept", "iri": iri.value, "label": plain(row.get("label")) or iri.value,
        "notation": plain(row.get("notation")), "definition": plain(row.get("definition")),
        "scheme": node(row, "scheme"),
        "broader": [node(r, "x") for r in select(store, _BROADER, s=iri)],
        "narrower": [{**node(r, "x"), "parent": r["parent"].value} for r in select(store, _NARROWER, s=iri)],
        "results": sorted(results.values(), key=lambda r: (r["project"] or {}).get("label", "")),
        "projects": projects,
    }


def compare(store: Store, runs: list[NamedNode]) -> dict[str, Any]:
    """Runs side by side: status, parameters and metrics, with columns that differ marked."""
    heads = run_summaries(store, runs)
    return {"runs": [h["run"]["iri"] for h in heads], "table": table(heads, run_values(store, runs))}


#: The head of each run bound at ``#@run`` (one query for all: 50 one-run queries cost 66 ms at 10k runs).
_RUN_SUMMARY = query("""SELECT ?run ?runLabel ?status ?started ?experiment ?experimentLabel WHERE {
  #@run
  OPTIONAL { ?run rdfs:label ?runLabel } OPTIONAL { ?run eg:status/skos:notation ?status }
  OPTIONAL { ?run prov:startedAtTime ?started }
  OPTIONAL { ?run eg:inExperiment ?experiment OPTIONAL { ?experiment rdfs:label ?experimentLabel } } }""")


def run_summaries(store: Store, runs: list[NamedNode]) -> list[dict[str, Any]]:
    """Each run's label, status, start and experiment, in the order given (the first row of each, as ``LIMIT 1``
    gave it one run at a time)."""
    first: dict[str, dict[str, Term]] = {}
    for row in select(store, _RUN_SUMMARY, run=runs) if runs else []:
        first.setdefault(row["run"].value, row)
    summaries = []
    for iri in runs:
        row = first.get(iri.value, {"run": iri})
        summaries.append({"run": node(row, "run"), "status": plain(row.get("status")),
                          "started": plain(row.get("started")), "experiment": node(row, "experiment")})
    return summaries
