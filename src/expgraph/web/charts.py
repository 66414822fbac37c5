"""Metric histories as chart data: ``/charts/runs?run=IRI...`` gives each run's every metric history (``eg:history``),
downsampled here so a chart never receives more than about ``2 * buckets`` points per series.

Why on the server: a 100k-step history is about 2.5 MB of text; the browser needs a few thousand points to draw
it at any screen width. Downsampling keeps each bucket's minimum and maximum (in step order), so spikes and
dips survive, and keeps every kind of non-finite value (NaN, INF, -INF) a bucket holds as a marker: a chart shows
where a loss went NaN instead of silently drawing a gap.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pyoxigraph import Literal, NamedNode, QuerySolutions

from expgraph.history import extremes, read_history
from expgraph.sparql.template import SparqlTemplate
from expgraph.store import Store
from expgraph.web.reading import PROLOGUE
from expgraph.web.state import reader_of
from expgraph.web.terms import BadRequest, iri_term

router = APIRouter()

#: The most runs one request may chart (the compare page's limit).
MAX_RUNS = 50
#: Default number of buckets for one run: two points each, about what a 1280 px wide chart can show. Several runs
#: overlaid share that width: ``BUCKETS * 2 // runs`` each, at least ``MIN_BUCKETS`` (a sent point costs JSON).
BUCKETS = 600
MIN_BUCKETS = 100

#: The runs' labels, and every metric of theirs with its history; DISTINCT because each source states a measure's
#: label again. The runs are bound inside each branch: pyoxigraph evaluates a branch (or an OPTIONAL) before
#: joining an outer binding, which read every run's metrics (7 s at 10k runs).
HISTORIES = SparqlTemplate.parse(PROLOGUE + """SELECT DISTINCT ?run ?label ?key ?history ?logged WHERE {
  { #@runs
    ?run rdfs:label ?label }
  UNION
  { #@runs
    ?run mls:hasOutput ?m . ?m a mls:ModelEvaluation ; mls:specifiedBy/rdfs:label ?key ; eg:history ?history
    OPTIONAL { ?m eg:valueCount ?logged } }
} ORDER BY ?key""")


def downsample(steps: list[int], values: list[float], times: list[float | None],
               buckets: int = BUCKETS, logged: int | None = None) -> dict[str, Any]:
    """One series for a chart: ``step``, ``time`` (None when unknown) and ``value`` columns (None where the value
    is not finite), plus ``special``: the non-finite points as ``{step, time, value: "NaN"|"INF"|"-INF"}``.

    Short histories come back whole; longer ones as ``buckets`` runs of consecutive points, each giving its
    lowest and highest finite point and the first point of each non-finite kind, in step order. ``count`` is
    ``logged`` (how many values the tracker logged: a history over ``expgraph.history.MAX_POINTS`` was cut at
    import) or the number of points."""
    count = max(logged or 0, len(steps))
    keep = extremes(values, buckets)
    series: dict[str, Any] = {"step": [], "time": [], "value": [], "special": []}
    for i in keep:
        v = values[i]
        series["step"].append(steps[i])
        series["time"].append(times[i])
        series["value"].append(v if math.isfinite(v) else None)
        if not math.isfinite(v):
            series["special"].append({"step": steps[i], "time": times[i], "value": _special(v)})
    series["count"] = count
    series["downsampled"] = len(keep) < count
    return series


def _special(value: float) -> str:
    return "NaN" if math.isnan(value) else ("INF" if value > 0 else "-INF")


class ChartCache:
    """Downsampled series by (store generation, run, buckets): parsing a long history costs far more than serving
    it, and the compare page asks for the same runs again."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()  # pages are built on several threads

    def runs(self, store: Store, runs: list[NamedNode], buckets: int) -> dict[str, dict[str, Any]]:
        """Each run's ``{"label", "metrics"}`` (see :func:`read_metrics`), in the order given."""
        generation = store.generation()
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            for run in runs:
                entry = self._entries.get((generation, run.value, buckets))
                if entry is not None:
                    self._entries.move_to_end((generation, run.value, buckets))
                    found[run.value] = entry
        missing = [run for run in runs if run.value not in found]
        if missing:
            read = read_metrics(store, missing, buckets)
            with self._lock:
                for run in missing:
                    found[run.value] = self._entries[(generation, run.value, buckets)] = read.get(
                        run.value, {"label": None, "metrics": []})
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return {run.value: found[run.value] for run in runs}


CACHE = ChartCache()


def read_metrics(store: Store, runs: list[NamedNode], buckets: int = BUCKETS) -> dict[str, dict[str, Any]]:
    """Each run's label and its metrics that have a history (by metric name, downsampled)."""
    result = store.query(HISTORIES.bind(runs=(["run"], [[run] for run in runs])))
    assert isinstance(result, QuerySolutions)
    found: dict[str, dict[str, Any]] = {}
    for run, label, key, history, logged in result:
        entry = found.setdefault(run.value, {"label": None, "metrics": {}})
        if label is not None and entry["label"] is None:
            entry["label"] = label.value
        if not isinstance(history, Literal) or key is None or key.value in entry["metrics"]:
            continue  # no history; or the same metric named twice (two labels): its first history is enough
        try:
            steps, values, times = read_history(history.value)
        except ValueError:
            continue  # a history written by hand or another tool: no chart rather than a broken page
        count = int(logged.value) if logged is not None and logged.value.isdigit() else None
        entry["metrics"][key.value] = {"key": key.value, **downsample(steps, values, times, buckets, count)}
    return {run: {"label": entry["label"], "metrics": list(entry["metrics"].values())}
            for run, entry in found.items()}


@router.get("/charts/runs", summary="Metric histories of runs, for charts")
def chart_runs(request: Request, run: list[str] = Query(default=[]),
               buckets: int | None = Query(default=None, ge=10, le=5000)) -> JSONResponse:
    """Every metric history of each run (at most 50 runs): step, time and value columns, non-finite values as
    ``special`` markers; histories longer than ``2 * buckets`` points downsampled keeping each bucket's extremes
    (default: 600 for one run, fewer each for several, at least 100)."""
    if not run:
        raise BadRequest("name at least one run: ?run=IRI")
    if len(run) > MAX_RUNS:
        raise BadRequest(f"chart at most {MAX_RUNS} runs at once")
    terms = [iri_term(r, "run") for r in dict.fromkeys(run)]
    if buckets is None:
        buckets = max(MIN_BUCKETS, min(BUCKETS, BUCKETS * 2 // len(terms)))
    charts = CACHE.runs(reader_of(request).store, terms, buckets)
    return JSONResponse({"runs": [{"run": iri, **entry} for iri, entry in charts.items()]})
