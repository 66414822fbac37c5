"""The overview page: counts, recent failures, top failure modes and completeness, from the list indexes.

The list indexes (see :mod:`expgraph.web.lists`) already hold every run's status and start time and every
result's type and failure mode, so the overview is counting in Python plus two small bound queries, instead of
aggregate joins that take seconds on a large catalog.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyoxigraph import NamedNode

from expgraph.namespaces import DCAT, EG, RUN_STATUS
from expgraph.store import Store
from expgraph.web.list_pages import SPECS, page_keys
from expgraph.web.reading import FAILED, has_quality, query, select
from expgraph.web.terms import node, plain

if TYPE_CHECKING:
    from expgraph.web.state import WebState

RECENT = 10
#: The run-status concepts of the failed statuses: what the run list's status facet holds.
_FAILED = {RUN_STATUS[status].value for status in FAILED}

_FAILURE_DETAILS = query("""SELECT ?run ?runLabel ?started ?error ?status ?mode ?modeLabel WHERE {
  #@run
  OPTIONAL { ?run rdfs:label ?runLabel } OPTIONAL { ?run prov:startedAtTime ?started }
  OPTIONAL { ?run eg:status/skos:notation ?status } OPTIONAL { ?run eg:errorText ?error }
  OPTIONAL { ?res prov:wasGeneratedBy ?run ; eg:failureMode ?mode . OPTIONAL { ?mode skos:prefLabel ?modeLabel } } }""")

_PROJECT_SCORES = query("""SELECT ?project ?projectLabel ?score WHERE {
  ?m dqv:computedOn ?project ; dqv:isMeasurementOf eg:completeness ; dqv:value ?score .
  ?project a eg:Project . OPTIONAL { ?project rdfs:label ?projectLabel } } ORDER BY ?score""")
#: How many things of a class there are (the class a constant term of the page).
_COUNT = query("SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a #@cls\n }")
_MODE_LABELS = query("SELECT ?m ?l WHERE {\n#@m\n?m skos:prefLabel ?l }")


def home(state: WebState) -> dict[str, Any]:
    store = state.store
    runs, results = state.lists.get(SPECS["runs"]), state.lists.get(SPECS["results"])
    failed = set().union(*(runs.select({"status": status}) for status in _FAILED))
    negative_filter = {"negative": EG.NegativeResult.value}
    negative = results.select(negative_filter)
    recent = [iri for _, iri in page_keys(runs.keys("started"), failed, None, True, RECENT)]
    return {
        "counts": {"projects": _count(state, EG.Project), "experiments": _count(state, EG.Experiment),
                   "runs": len(runs.select({})), "failed_runs": len(failed), "datasets": _count(state, DCAT.Dataset),
                   "results": len(results.select({})), "negative_results": len(negative)},  # retired ones not
        "recent_failures": _failures(store, recent),
        "top_failure_modes": _top_modes(store, results.top(negative_filter, "failure_mode")[:RECENT]),
        "completeness": [{"project": node(row, "project"), "score": plain(row["score"])}
                         for row in state.queries.select(_PROJECT_SCORES)] if has_quality(store) else None,
    }


def _count(state: WebState, cls: NamedNode) -> int:
    rows = state.queries.select(_COUNT, slots={"cls": cls})
    return plain(rows[0]["n"]) if rows else 0


def _failures(store: Store, recent: list[str]) -> list[dict[str, Any]]:
    if not recent:
        return []
    found: dict[str, dict[str, Any]] = {}
    runs = [NamedNode(iri) for iri in recent]
    for row in select(store, _FAILURE_DETAILS, run=runs):
        error = plain(row.get("error")) or ""
        item = found.setdefault(row["run"].value, {
            "run": node(row, "run"), "started": plain(row.get("started")), "status": plain(row.get("status")),
            "mode": node(row, "mode"), "error": error if len(error) <= 160 else error[:157] + "..."})
        item["mode"] = item["mode"] or node(row, "mode")
    return [found[iri] for iri in recent if iri in found]


def _top_modes(store: Store, top: list[tuple[str, int]]) -> list[dict[str, Any]]:
    if not top:
        return []
    labels = {row["m"].value: row["l"].value
              for row in select(store, _MODE_LABELS, m=[NamedNode(mode) for mode, _ in top])}
    return [{"mode": {"iri": mode, "label": labels.get(mode, mode.rsplit("/", 1)[-1])}, "results": n}
            for mode, n in top]
