"""The team server on an app made by ``create_app``: the ``/api/v1`` routers, the audit page and the request gate.

Kept apart from the routes so that no route module needs to know about the others (the audit page reads through
the API's role checks; the API does not know the page).
"""

from __future__ import annotations

from fastapi import FastAPI

from expgraph.team import api, audit, audit_page, submit
from expgraph.team.gate import TeamGate, anonymous_read_allowed
from expgraph.team.proxy import ProxyTrust
from expgraph.team.tokens import TokenStore
from expgraph.team.writes import WriteQueue
from expgraph.web.state import state_of


def install(app: FastAPI) -> None:
    """The team API and its gate on ``app`` (the one line web/app.py calls)."""
    store, settings = state_of(app).store, state_of(app).settings
    path = getattr(store, "path", None)
    anonymous_read_allowed(settings.anonymous_read, settings.host)  # a bad value fails at start, not per request
    app.state.team_writes = WriteQueue()
    app.state.team_tokens = tokens = TokenStore.beside(path)
    audit.record_token_changes(store, tokens, base=settings.base_iri)  # those made while no server ran
    app.include_router(api.router)
    app.include_router(audit_page.api_router)
    app.include_router(audit_page.router)
    app.include_router(submit.router)
    app.add_middleware(TeamGate, tokens=tokens, max_upload=settings.max_upload_mb * 2**20,
                       spool_dir=str(api.upload_spool(path)) if path is not None else None,
                       proxy=ProxyTrust.from_settings(settings))  # a bad proxy setting fails at start too
