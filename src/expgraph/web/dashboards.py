"""``/dashboard``: trends and recurring problems at a glance, for the whole catalog or one project
(``?project=IRI``): failures over time by failure mode, the failure rate by dataset, the failure modes that recur
most (and in how many projects).

Each panel is one aggregate query, counted by the store, kept per store generation (an import makes it stale), and
drawn as server-side SVG: no script needed, and bars and cells are SVG attributes, which the CSP allows where
inline ``style`` would not be.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pyoxigraph import NamedNode, QuerySolutions

from expgraph.namespaces import RUN_STATUS
from expgraph.records import RunStatus
from expgraph.sparql.template import SparqlTemplate
from expgraph.store import Store
from expgraph.store.base import Term
from expgraph.web.render import respond
from expgraph.web.views import PROLOGUE, iri_term, plain, short

router = APIRouter()

#: Failed or killed, from the one definition (``RunStatus.is_failure``).
FAILURE_STATUSES = [RUN_STATUS[status.value] for status in RunStatus if status.is_failure]
TOP_MODES = 8
TOP_DATASETS = 15
TOP_RECURRING = 12

#: Negative results per failure mode and month of their run's start. ``#@project`` scopes to one project.
OVER_TIME = SparqlTemplate.parse(PROLOGUE + """
SELECT ?mode (SAMPLE(?label) AS ?modeLabel) ?month (COUNT(DISTINCT ?x) AS ?n) WHERE {
  #@project
  ?x a eg:NegativeResult ; eg:failureMode ?mode ; prov:wasGeneratedBy ?run .
  ?run prov:startedAtTime ?started ; eg:inExperiment/eg:inProject ?project .
  OPTIONAL { ?mode skos:prefLabel ?label }
  BIND(SUBSTR(STR(?started), 1, 7) AS ?month)
} GROUP BY ?mode ?month""")

#: Runs and failed (or killed) runs per dataset (the abstract dataset a snapshot belongs to).
BY_DATASET = SparqlTemplate.parse(PROLOGUE + """
SELECT ?dataset (SAMPLE(?label) AS ?datasetLabel) (COUNT(DISTINCT ?run) AS ?runs) (COUNT(DISTINCT ?failed) AS ?fails)
WHERE {
  #@project
  ?run a eg:Run ; prov:used ?snapshot ; eg:inExperiment/eg:inProject ?project .
  ?snapshot dcat:inSeries ?dataset .
  OPTIONAL { ?dataset rdfs:label ?label }
  OPTIONAL { #@failing
             ?run eg:status ?status BIND(?run AS ?failed) }
} GROUP BY ?dataset""")

#: Negative results per failure mode, and in how many projects the mode occurred.
RECURRING = SparqlTemplate.parse(PROLOGUE + """
SELECT ?mode (SAMPLE(?label) AS ?modeLabel) (COUNT(DISTINCT ?x) AS ?n) (COUNT(DISTINCT ?project) AS ?projects)
WHERE {
  #@project
  ?x a eg:NegativeResult ; eg:failureMode ?mode ; prov:wasGeneratedBy ?run .
  ?run eg:inExperiment/eg:inProject ?project .
  OPTIONAL { ?mode skos:prefLabel ?label }
} GROUP BY ?mode ORDER BY DESC(?n) LIMIT 12""")

#: The project's title (its label when it has none).
_PROJECT = SparqlTemplate.parse(PROLOGUE + """SELECT (COALESCE(?title, ?name) AS ?label) WHERE { #@project
  ?project a eg:Project OPTIONAL { ?project dct:title ?title } OPTIONAL { ?project rdfs:label ?name } } LIMIT 1""")


def dashboard(store: Store, project: NamedNode | None = None) -> dict[str, Any]:
    """The dashboard's data: ``failures_over_time`` (months, and per failure mode a count per month),
    ``by_dataset`` (runs, failed runs and the failure rate per dataset) and ``recurring`` failure modes."""
    scope = {"project": (["project"], [[project]])} if project is not None else {}
    data: dict[str, Any] = {"project": None, "failures_over_time": _over_time(_rows(store, OVER_TIME, scope)),
                            "by_dataset": _by_dataset(_rows(store, BY_DATASET, {
                                **scope, "failing": (["status"], [[s] for s in FAILURE_STATUSES])})),
                            "recurring": [{"mode": _node(row, "mode"), "results": plain(row["n"]),
                                           "projects": plain(row["projects"])}
                                          for row in _rows(store, RECURRING, scope)]}
    if project is not None:
        found = _rows(store, _PROJECT, scope)
        label = found[0].get("label") if found else None
        data["project"] = {"iri": project.value, "label": label.value if label is not None else short(project.value),
                           "known": bool(found)}
    return data


class _Cache:
    """Panel rows by (store generation, query, bound terms): aggregates are worth keeping until an import."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._entries: dict[tuple, list[dict[str, Term]]] = {}
        self._lock = threading.Lock()

    def rows(self, store: Store, template: SparqlTemplate, blocks: dict[str, Any]) -> list[dict[str, Term]]:
        key = (store.generation(), template.text, repr(sorted(blocks.items())))
        with self._lock:
            if key in self._entries:
                return self._entries[key]
        result = store.query(template.bind(**blocks))
        assert isinstance(result, QuerySolutions)
        names = [variable.value for variable in result.variables]
        rows = [{name: term for name, term in zip(names, row, strict=True) if term is not None} for row in result]
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.clear()
            self._entries[key] = rows
        return rows


CACHE = _Cache()


def _rows(store: Store, template: SparqlTemplate, blocks: dict[str, Any]) -> list[dict[str, Term]]:
    return CACHE.rows(store, template, blocks)


def _node(row: dict[str, Term], var: str) -> dict[str, str]:
    label = row.get(f"{var}Label")
    return {"iri": row[var].value, "label": label.value if label is not None else short(row[var].value)}


def _over_time(rows: list[dict[str, Term]]) -> dict[str, Any]:
    """Months (every month from the first to the last, so gaps show) and the top failure modes' counts per month;
    the rest summed as "other modes". ``max`` is the largest cell, for shading."""
    if not rows:
        return {"months": [], "modes": [], "max": 0}
    found = sorted({row["month"].value for row in rows})
    months = _month_range(found[0], found[-1])
    totals: dict[str, int] = {}
    modes: dict[str, dict[str, Any]] = {}
    for row in rows:
        mode = _node(row, "mode")
        entry = modes.setdefault(mode["iri"], {"mode": mode, "counts": dict.fromkeys(months, 0)})
        entry["counts"][row["month"].value] += plain(row["n"])
        totals[mode["iri"]] = totals.get(mode["iri"], 0) + plain(row["n"])
    order = sorted(modes, key=lambda iri: (-totals[iri], modes[iri]["mode"]["label"]))
    shown = [modes[iri] for iri in order[:TOP_MODES]]
    rest = order[TOP_MODES:]
    if rest:
        shown.append({"mode": {"iri": None, "label": f"{len(rest)} other modes"},
                      "counts": {m: sum(modes[iri]["counts"][m] for iri in rest) for m in months}})
    series = [{"mode": entry["mode"], "counts": [entry["counts"][m] for m in months],
               "total": sum(entry["counts"].values())} for entry in shown]
    return {"months": months, "modes": series, "max": max(max(s["counts"]) for s in series)}


def _month_range(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    months = []
    while f"{year:04d}-{month:02d}" <= last and len(months) < 240:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _by_dataset(rows: list[dict[str, Term]]) -> list[dict[str, Any]]:
    """Datasets by failure rate (then by runs), the top ones."""
    items = [{"dataset": _node(row, "dataset"), "runs": plain(row["runs"]), "failed": plain(row["fails"]),
              "rate": plain(row["fails"]) / plain(row["runs"])} for row in rows if plain(row["runs"])]
    items.sort(key=lambda item: (-item["rate"], -item["runs"], item["dataset"]["label"]))
    return items[:TOP_DATASETS]


@router.get("/dashboard", summary="Failures over time, failure rate by dataset, recurring failure modes")
def dashboard_page(request: Request, project: str | None = None) -> Response:
    """For the whole catalog, or one project with ``?project=IRI`` (``?format=json`` for the data)."""
    term = iri_term(project, "project") if project else None
    return respond(request, "dashboard.html", dashboard(request.app.state.store, term))
