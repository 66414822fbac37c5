"""Warm the server's caches in the background when it starts, so the first visitor does not pay for them.

On a large catalog the list indexes behind the home page and the run, result and dataset lists take seconds to
build, and saved queries aggregate over every run. Both are cached per store generation; this fills those caches
once, on a background thread whose queries the scheduler runs only when no request waits and a worker stays
idle beside them (client ``BACKGROUND``), so other requests are served meanwhile: first the list members, then
the search index (which turns a search's scans into a lookup), then the saved queries, then every facet and sort
key of the lists and their first pages (which the first visitor of a filtered list would otherwise wait for).
While a project is restricted, the same again for anonymous visitors' scope. The times are in
docs/architecture.md.
"""

from __future__ import annotations

import logging
import threading

from fastapi import FastAPI

from expgraph.sparql.scheduler import BACKGROUND
from expgraph.web.list_pages import SPECS, list_page
from expgraph.web.state import state_of

log = logging.getLogger(__name__)


def warm_up(app: FastAPI, stop: threading.Event | None = None) -> threading.Thread:
    """Start filling the caches; returns the (daemon) thread doing it. Setting ``stop`` ends it between steps."""
    thread = threading.Thread(target=_warm, args=(app, stop or threading.Event()), name="expgraph-warm-up",
                              daemon=True)
    thread.start()
    return thread


def _warm(app: FastAPI, stop: threading.Event) -> None:
    from expgraph.web.queries_routes import library, saved_job
    from expgraph.web.search import SEARCH

    app_state = state_of(app)
    try:
        # while a project is restricted, anonymous visitors read in a scope of their own, with caches of its own
        for state in dict.fromkeys([app_state, app_state.within(app_state.scope_for(None))]):
            for spec in SPECS.values():
                if stop.is_set():
                    return
                state.lists.get(spec)
            if not stop.is_set():
                state.search.get(SEARCH).build()
            runner = state.runner()
            for saved in library().values():
                if stop.is_set():
                    return
                if all(parameter.default is not None or not parameter.required for parameter in saved.parameters):
                    runner.run(saved_job(saved.bind({}), state.settings, scope=state.scope), client=BACKGROUND)
            for spec in SPECS.values():
                if stop.is_set():
                    return
                state.lists.get(spec).warm(stop)
                if not stop.is_set():
                    list_page(state, spec, {})  # its first page: the counts in its columns are cached too
    except Exception:  # a warm-up failure must not take the server down; the request path reports errors
        if not stop.is_set():
            log.exception("cache warm-up stopped")
