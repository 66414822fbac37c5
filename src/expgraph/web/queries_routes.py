"""``/queries``: the saved-query library as pages (form, table, chart), downloads (CSV, TSV, JSON) and JSON API.

``/queries`` lists them (``?format=json``: name, title, description, parameters); ``/queries/NAME?k=v`` runs one
with its parameters type-checked and bound as terms, in the same killable, time-limited runner as ``/sparql``.
``format=json`` returns the page's data, ``format=csv`` / ``tsv`` / ``srj`` the standard SPARQL results files.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from expgraph.formats import RESULTS, by_suffix
from expgraph.settings import Settings
from expgraph.sparql.runner import MB, QueryJob, QueryOutcome, outcome_headers
from expgraph.sparql.saved import SavedQuery, SavedQueryError, load_queries
from expgraph.store.scope import EVERYTHING, GraphScope
from expgraph.web.render import href, templates, wants_json
from expgraph.web.sparql import client_of, query_runner, scope_of
from expgraph.web.state import state_of

router = APIRouter()
#: ``format=`` values that download the SPARQL results file (by suffix; ``json`` is the page's data instead).
_DOWNLOADS = ("csv", "tsv", "srj")
_NUMERIC = {"integer", "decimal", "double", "float", "int", "long"}


@cache
def library() -> dict[str, SavedQuery]:
    return load_queries()


@router.get("/queries", summary="The saved-query library")
def queries_page(request: Request) -> Response:
    data = {"queries": [query.as_dict() for query in library().values()]}
    if wants_json(request):
        return JSONResponse(data)
    return templates.TemplateResponse(request, "queries.html", {"data": data})


def saved_job(text: str, settings: Settings, download: str | None = None, scope: GraphScope = EVERYTHING) -> QueryJob:
    """The job for a bound saved query; the same for the page and the warm-up, so both share cached results."""
    return QueryJob(text, accept=download or "application/sparql-results+json", max_rows=settings.max_rows,
                    max_bytes=settings.max_result_mb * MB, scope=scope)


@router.get("/queries/{name}", summary="Run a saved query with its parameters")
async def query_page(request: Request, name: str) -> Response:
    queries = library()
    if name not in queries:
        return _fail(request, None, 404, f"no saved query named {name!r}")
    saved = queries[name]
    fmt = request.query_params.get("format", "html")
    raw = {k: v for k, v in request.query_params.items() if k != "format"}
    try:
        text = saved.bind(raw)
    except SavedQueryError as error:
        return _fail(request, saved, 400, str(error), raw)
    settings = state_of(request).settings
    chosen = by_suffix(f".{fmt}", RESULTS) if fmt in _DOWNLOADS else None
    download = chosen.media_type if chosen else None
    job = saved_job(text, settings, download, scope_of(request))
    outcome = await query_runner(request.app).run_async(job, client=client_of(request))
    if outcome.status != 200:
        return _fail(request, saved, outcome.status, outcome.message, raw, outcome)
    if chosen:
        return Response(outcome.body, media_type=outcome.media_type, headers={
            "Content-Disposition": f'attachment; filename="{name}{chosen.suffixes[0]}"'})
    results = json.loads(outcome.body)
    columns = results["head"]["vars"]
    cells = [[row.get(column) for column in columns] for row in results["results"]["bindings"]]
    data = {"query": saved.as_dict(), "parameters": _form(saved, raw), "columns": columns,
            "rows": [{c: cell["value"] for c, cell in zip(columns, row, strict=True) if cell} for row in cells],
            "truncated": outcome.truncated, "seconds": round(outcome.seconds, 3), "sparql": text}
    if wants_json(request):
        return JSONResponse(data)
    for row in cells:
        for cell in row:
            if cell and cell["type"] == "uri":
                cell["href"] = href(request, cell["value"])
    context = {"data": {**data, "rows": cells, "shown": _fold_labels(columns, cells),
                        "chart": _chart(saved, columns, cells), "max_rows": settings.max_rows}}
    return templates.TemplateResponse(request, "query.html", context)


def _fold_labels(columns: list[str], cells: list[list[dict[str, str] | None]]) -> list[int]:
    """The columns the page draws: a column named X + ``Label`` (``otherLabel``, ``failureModeLabel``) becomes the
    link text of column X's cells instead of a column of its own, so people read names, not IRIs; the data and the
    downloads keep every column."""
    index = {name: i for i, name in enumerate(columns)}
    folded = {index[name]: index[name[:-5]] for name in columns if name.endswith("Label") and name[:-5] in index}
    for row in cells:
        for label_at, labelled_at in folded.items():
            label, cell = row[label_at], row[labelled_at]
            if label and cell:
                cell["label"] = label["value"]
    return [i for i in range(len(columns)) if i not in folded]


def _form(saved: SavedQuery, raw: dict[str, str]) -> list[dict[str, Any]]:
    return [{**p.as_dict(), "value": raw.get(p.name, "")} for p in saved.parameters]


def _fail(request: Request, saved: SavedQuery | None, status: int, message: str,
          raw: dict[str, str] | None = None, outcome: QueryOutcome | None = None) -> Response:
    data: dict[str, Any] = {"error": message, "status": status}
    headers = outcome_headers(outcome) if outcome else None
    if saved is not None:
        data |= {"query": saved.as_dict(), "parameters": _form(saved, raw or {}), "columns": [], "rows": []}
    if wants_json(request) or saved is None or request.query_params.get("format") in _DOWNLOADS:
        return JSONResponse(data, status_code=status, headers=headers)
    return templates.TemplateResponse(request, "query.html", {"data": data}, status_code=status, headers=headers)


def _chart(saved: SavedQuery, columns: list[str], cells: list[list[dict[str, str] | None]]) -> dict[str, Any] | None:
    """Bars (or a line) of the last numeric column against the first text column, as SVG geometry."""
    if not saved.chart or not cells:
        return None

    def numeric(cell: dict[str, str] | None) -> bool:
        return bool(cell) and cell.get("datatype", "").rsplit("#", 1)[-1] in _NUMERIC

    value_index = next((i for i in reversed(range(len(columns))) if all(numeric(r[i]) for r in cells)), None)
    label_indexes = [i for i in range(len(columns)) if i != value_index and not numeric(cells[0][i])]
    if value_index is None or not label_indexes:
        return None
    rows = cells[:40]
    values = [float(r[value_index]["value"]) for r in rows]  # type: ignore[index]
    top = max(max(values), 1e-12)
    bars = []
    for position, (row, value) in enumerate(zip(rows, values, strict=True)):
        label = " · ".join(r["value"] for i in label_indexes[:2] if (r := row[i]))
        bars.append({"label": label, "value": row[value_index]["value"],  # type: ignore[index]
                     "width": round(600 * value / top, 1), "y": position * 22})
    points = " ".join(f"{40 + i * 600 / max(len(values) - 1, 1):.1f},{200 - 180 * v / top:.1f}"
                      for i, v in enumerate(values))
    return {"kind": saved.chart, "value_column": columns[value_index], "bars": bars,
            "height": len(bars) * 22, "points": points}
