"""``/dashboard``: trends and recurring problems at a glance, for the whole catalog or one project
(``?project=IRI``): failures over time by failure mode, the failure rate by dataset, the failure modes that recur
most (and in how many projects).

Counted in Python from the run list's index (:mod:`expgraph.web.lists`: each run's project, status, datasets,
failure modes and start time, built once per store version and warmed when the server starts), like the overview
page: the same counts as aggregate queries took 1-3 s each at 10k runs (see benchmarks/results/). Then one small
bound query for the labels. Drawn as server-side SVG: no script needed, and bars and cells are SVG attributes,
which the CSP allows where inline ``style`` would not be.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pyoxigraph import NamedNode, QuerySolutions

from expgraph.namespaces import RUN_STATUS
from expgraph.records import RunStatus
from expgraph.sparql.template import SparqlTemplate
from expgraph.store import Store
from expgraph.web.list_specs import SPECS
from expgraph.web.reading import PROLOGUE, QUALITY_GRAPH, has_quality
from expgraph.web.render import respond
from expgraph.web.state import WebState, reader_of
from expgraph.web.terms import iri_term, short

router = APIRouter()

#: Failed or killed, from the one definition (``RunStatus.is_failure``).
FAILURE_STATUSES = {RUN_STATUS[status.value].value for status in RunStatus if status.is_failure}
TOP_MODES = 8
TOP_DATASETS = 15
TOP_RECURRING = 12

#: Every score in the quality graph (runs', experiments' and projects'): read over that graph alone.
_SCORES = SparqlTemplate.parse(PROLOGUE + """SELECT ?x ?score WHERE {
  ?m dqv:computedOn ?x ; dqv:isMeasurementOf eg:completeness ; dqv:value ?score }""")

#: Labels of failure modes (SKOS) and datasets; the project's title (its label when it has none).
_LABELS = SparqlTemplate.parse(PROLOGUE + """SELECT ?x (SAMPLE(?name) AS ?label) WHERE { #@nodes
  { ?x skos:prefLabel ?name } UNION { ?x rdfs:label ?name } UNION { ?x dct:title ?name } } GROUP BY ?x""")


class _Kept:
    """The last dashboards built, by project, for one store generation: counting every run again costs about
    17 ms per 1,000 runs (see benchmarks/results/), the page is meant to be looked at often."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._generation: tuple[str, ...] | None = None
        self._pages: dict[str | None, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, state: WebState, project: NamedNode | None) -> dict[str, Any]:
        generation, key = state.store.generation(), project.value if project is not None else None
        with self._lock:
            if generation != self._generation:
                self._generation, self._pages = generation, {}
            if key in self._pages:
                return self._pages[key]
        data = dashboard(state, project)
        with self._lock:
            if generation == self._generation:
                if len(self._pages) >= self.size:
                    self._pages.clear()
                self._pages[key] = data
        return data


def dashboard(state: WebState, project: NamedNode | None = None) -> dict[str, Any]:
    """The dashboard's data: ``failures_over_time`` (months, and per failure mode a count of failed runs per
    month), ``by_dataset`` (runs, failed runs and the failure rate per dataset) and ``recurring`` failure modes
    (failed runs and projects per mode)."""
    store = state.store
    index = state.lists.get(SPECS["runs"])
    runs = index.select({"project": project.value}) if project is not None else set(index.members)
    statuses, modes = index.values("status"), index.values("failure_mode")
    failed = {run for run in runs if statuses.get(run, set()) & FAILURE_STATUSES}
    month_of = {run: key[:7] for key, run in index.keys("started") if run in runs and len(key) >= 7}
    started = {run: month for run, month in month_of.items() if run in failed}
    monthly = Counter((mode, started[run]) for run in failed if run in started for mode in modes.get(run, ()))
    datasets = index.values("dataset")
    per_dataset = Counter(d for run in runs for d in datasets.get(run, ()))
    failed_per_dataset = Counter(d for run in failed for d in datasets.get(run, ()))
    projects = index.values("project")
    mode_runs = Counter(mode for run in failed for mode in modes.get(run, ()))
    mode_projects = {mode: set() for mode in mode_runs}
    for run in failed:
        for mode in modes.get(run, ()):
            mode_projects[mode] |= projects.get(run, set())
    recurring = sorted(mode_runs.items(), key=lambda pair: (-pair[1], pair[0]))[:TOP_RECURRING]
    by_dataset = sorted(((d, n, failed_per_dataset[d]) for d, n in per_dataset.items()),
                        key=lambda item: (-item[2] / item[1], -item[1], item[0]))[:TOP_DATASETS]
    named = {mode for mode, _ in monthly} | {mode for mode, _ in recurring} | {d for d, _, _ in by_dataset}
    labels = _labels(store, named | ({project.value} if project is not None else set()))

    def node(iri: str) -> dict[str, str]:
        return {"iri": iri, "label": labels.get(iri) or short(iri)}

    data: dict[str, Any] = {
        "project": None, "runs": len(runs), "failed_runs": len(failed),
        "failures_over_time": _over_time(monthly, node),
        "by_dataset": [{"dataset": node(d), "runs": n, "failed": k, "rate": k / n} for d, n, k in by_dataset],
        "recurring": [{"mode": node(mode), "runs": n, "projects": len(mode_projects[mode])} for mode, n in recurring],
        "completeness_over_time": _completeness(store, month_of) if has_quality(store) else None,
    }
    if project is not None:
        data["project"] = {**node(project.value), "known": bool(runs) or project.value in labels}
    return data


KEPT = _Kept()


def _labels(store: Store, iris: set[str]) -> dict[str, str]:
    if not iris:
        return {}
    result = store.query(_LABELS.bind(nodes=(["x"], [[NamedNode(iri)] for iri in sorted(iris)])))
    assert isinstance(result, QuerySolutions)
    return {x.value: label.value for x, label in result if label is not None}


def _completeness(store: Store, month_of: dict[str, str]) -> dict[str, Any]:
    """The mean completeness score of the runs that started in each month (months without scored runs: None)."""
    result = store.query(_SCORES.text, graphs=[NamedNode(QUALITY_GRAPH)])
    assert isinstance(result, QuerySolutions)
    sums: Counter = Counter()
    counts: Counter = Counter()
    for x, score in result:
        month = month_of.get(x.value)
        if month is not None:
            sums[month] += float(score.value)
            counts[month] += 1
    if not counts:
        return {"months": [], "mean": [], "runs": []}
    months = _month_range(min(counts), max(counts))
    return {"months": months, "mean": [round(sums[m] / counts[m], 4) if counts[m] else None for m in months],
            "runs": [counts[m] for m in months]}


def _over_time(monthly: Counter, node) -> dict[str, Any]:
    """Months (every month from the first to the last, so gaps show) and the top failure modes' counts per month;
    the rest summed as "N other modes". ``max`` is the largest cell, for shading."""
    if not monthly:
        return {"months": [], "modes": [], "max": 0}
    found = sorted({month for _, month in monthly})
    months = _month_range(found[0], found[-1])
    totals = Counter()
    for (mode, _), n in monthly.items():
        totals[mode] += n
    order = sorted(totals, key=lambda mode: (-totals[mode], mode))
    rows = [(node(mode), [monthly.get((mode, m), 0) for m in months]) for mode in order[:TOP_MODES]]
    rest = order[TOP_MODES:]
    if rest:
        rows.append(({"iri": None, "label": f"{len(rest)} other modes"},
                     [sum(monthly.get((mode, m), 0) for mode in rest) for m in months]))
    series = [{"mode": mode, "counts": counts, "total": sum(counts)} for mode, counts in rows]
    return {"months": months, "modes": series, "max": max(max(s["counts"]) for s in series)}


def _month_range(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    months = []
    while f"{year:04d}-{month:02d}" <= last and len(months) < 240:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


@router.get("/dashboard", summary="Failures over time, failure rate by dataset, recurring failure modes")
def dashboard_page(request: Request, project: str | None = None) -> Response:
    """For the whole catalog, or one project with ``?project=IRI`` (``?format=json`` for the data)."""
    term = iri_term(project, "project") if project else None
    return respond(request, "dashboard.html", KEPT.get(reader_of(request), term))
