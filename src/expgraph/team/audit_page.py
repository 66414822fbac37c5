"""``/audit``: the audit trail as a page (newest first, paged by entry number) and its JSON twin.

The trail names tokens and the addresses writes came from, so it is for those who may write (contributors and
above), never for readers or the anonymous visitors of a public catalog: the page, ``/api/v1/audit`` and, through
:func:`hidden_graphs`, the audit graph on ``/sparql`` and every other query a caller runs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from expgraph.team import audit
from expgraph.team.api import record_pending_token_changes, require_role
from expgraph.team.audit import AUDIT_READER
from expgraph.web.render import respond
from expgraph.web.state import reader_of

router = APIRouter()
#: ``/api/v1/audit``, in the team API's part of the OpenAPI docs.
api_router = APIRouter(prefix="/api/v1", tags=["team API"])
PAGE_SIZE = 50


def read_trail(request: Request, limit: int, before: int | None = None) -> list[dict[str, str]]:
    """The entries for a contributor's request (401/403 otherwise), with token changes made on the server's machine
    recorded first when no write is under way (never waiting for one)."""
    require_role(request, AUDIT_READER)
    with request.app.state.team_writes.if_free() as free:
        if free:
            record_pending_token_changes(request)
    return audit.recent(reader_of(request).store, limit, before)  # within the caller's scope (private projects)


@router.get("/audit", summary="The audit trail, newest first (contributor; ?format=json)",
            responses={401: {"description": "no token"}, 403: {"description": "reader"}})
def audit_trail(request: Request, before: int | None = Query(None, ge=0, description="entries older than this"),
                limit: int = Query(PAGE_SIZE, ge=1, le=500)) -> Response:
    """Every write (imports, retirements, purges, token changes): who, when, what, from where."""
    entries = read_trail(request, limit + 1, before)
    more = len(entries) > limit
    entries = entries[:limit]
    data: dict[str, Any] = {"entries": entries, "limit": limit, "before": before,
                            "next": {"before": int(entries[-1]["index"])} if more else None}
    return respond(request, "audit.html", data)


@api_router.get("/audit", summary="The latest entries of the audit trail, newest first (contributor)",
                responses={401: {"description": "no token"}, 403: {"description": "reader"}})
def audit_entries(request: Request, limit: int = Query(50, ge=1, le=1000)) -> list[dict[str, str]]:
    return read_trail(request, limit)
