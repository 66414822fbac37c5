"""Writes whose work the server does: a hand-written record posted in the records importer's format
(``POST /api/v1/records``; contributors, into their projects) and a validation run (``POST /api/v1/validate``;
contributors: it refreshes the stored completeness scores).

A posted record goes the way of every import: the records importer reads it (from a spool file), the mapper maps
it, and the mapped graph is applied exactly as an upload is (:func:`expgraph.team.api.apply_upload`: project
checks, stage-and-swap, an unchanged record changes nothing, the audit entry in the same transaction).
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from expgraph._version import __version__
from expgraph.failures import FailureClassifier
from expgraph.importers.base import build_batch
from expgraph.importers.errors import SourceError
from expgraph.importers.records import RecordsImporter
from expgraph.mapping import batch_statements, map_import_activity, source_graph
from expgraph.records import Liveness
from expgraph.store.served import upload_body
from expgraph.team.api import apply_upload, require_role, turn
from expgraph.team.tokens import Token
from expgraph.web.state import state_of

router = APIRouter(prefix="/api/v1", tags=["team API"])
#: Content types of a posted record, and the file suffix the records importer reads each as.
RECORD_TYPES = {"application/yaml": ".yaml", "application/x-yaml": ".yaml", "text/yaml": ".yaml",
                "application/json": ".json", "text/csv": ".csv"}
_SOURCE_NAME = re.compile(r"^[\w.-]{1,100}$")
LEVELS = ("violation", "warning", "info")


class _PostedRecords(RecordsImporter):
    """The records importer on a spooled body, whose identity (hence its graph and IRIs) is the name it was posted
    under, not the spool file's path."""

    def __init__(self, path: Path, name: str, project: str | None) -> None:
        super().__init__(str(path), project=project)
        self._name = name

    def identity(self) -> str:
        return f"api:records/{self._name}"


@router.post(
    "/records",
    summary="Add a hand-written record (records importer format: YAML, JSON or CSV) (contributor)",
    openapi_extra={"requestBody": {"required": True, "content": {t: {"schema": {"type": "string"}}
                                                                  for t in RECORD_TYPES}}},
    responses={400: {"description": "not a valid record"}, 401: {"description": "no token"},
               403: {"description": "role or project not allowed"}, 415: {"description": "not YAML, JSON or CSV"}},
)
async def post_record(request: Request,
                      source: str | None = Query(None, description="Name of this record source: posting under the "
                                                 "same name again replaces it (default: the body's digest)"),
                      project: str | None = Query(None, description="Put every experiment into this project")
                      ) -> dict[str, Any]:
    """The body is a records file (see ``expgraph new-record``); its graph is ``graph/records/...`` of ``source``."""
    token = require_role(request, "contributor")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in RECORD_TYPES:
        raise HTTPException(415, f"post a record as {', '.join(sorted(set(RECORD_TYPES)))}, not "
                                 f"{content_type or '(no content type)'}")
    body = await request.body()
    name = source or hashlib.sha256(body).hexdigest()[:16]
    if not _SOURCE_NAME.fullmatch(name):
        raise HTTPException(400, f"source {name!r}: letters, digits, '.', '_' and '-' only, at most 100")
    return await run_in_threadpool(_apply_record, request, token, body, RECORD_TYPES[content_type], name, project)


def _apply_record(request: Request, token: Token, body: bytes, suffix: str, name: str, project: str | None
                  ) -> dict[str, Any]:
    store, base = state_of(request).store, state_of(request).settings.base_iri
    with tempfile.TemporaryDirectory(prefix="expgraph-record-") as spool:
        path = Path(spool) / f"record{suffix}"
        path.write_bytes(body)
        importer = _PostedRecords(path, name, project)
        try:
            batch = build_batch(importer, FailureClassifier.from_store(store), Liveness(datetime.now(UTC)))
        except SourceError as error:
            raise HTTPException(400, f"the posted record: {error.problem}") from None
        now = datetime.now(UTC)
        record = map_import_activity(batch, started=now, ended=now, agent=token.name,
                                     tool_version=f"expgraph {__version__}", location=importer.identity(), base=base)
        mapped = Path(spool) / "mapped.nq"
        with mapped.open("wb") as out:
            for chunk in upload_body(batch_statements(batch, base), record):
                out.write(chunk)
        graph = source_graph(batch.tracker, batch.source, base)
        outcome = apply_upload(request, token, graph, mapped, action="record")
    return {**outcome, "source": name, "runs": len(batch.runs), "results": len(batch.results)}


@router.post(
    "/validate",
    summary="Validate the whole catalog and refresh the completeness scores; the report's summary (contributor)",
    responses={401: {"description": "no token"}, 403: {"description": "below contributor"}},
)
def post_validate(request: Request, fail_on: str = Query("violation", description="violation, warning or info: "
                                                         "the severity at which the catalog does not conform")
                  ) -> dict[str, Any]:
    """What ``expgraph validate`` reports, without the list of results (``/validate?format=json`` has them)."""
    from expgraph.validation import validate_catalog
    from expgraph.validation.report import report_data

    token = require_role(request, "contributor")
    if fail_on not in LEVELS:
        raise HTTPException(400, f"fail_on must be one of {', '.join(LEVELS)}, not {fail_on!r}")
    with turn(request, token, "validate", "the whole catalog"):  # it writes the scores: one write at a time
        report, scores = validate_catalog(state_of(request).store)
    data = report_data(report, scores, fail_on=fail_on)
    return {key: value for key, value in data.items() if key != "results"} | {"results": len(data["results"])}
