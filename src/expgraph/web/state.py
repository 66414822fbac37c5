"""The one app-state object: what an app serves (store, settings) and what it keeps (query runner, caches).

One per app, at ``app.state.web``: the caches are kept by the store's generation
(:meth:`~expgraph.store.base.Store.generation`) and belong to the app, so two apps (or two stores) never share an
entry, and nothing is kept in module globals.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import FastAPI, Request

from expgraph.settings import Settings
from expgraph.sparql.runner import QueryRunner, runner_for
from expgraph.store import EVERYTHING, GraphScope, Store
from expgraph.web.cache import IndexCache, KeptByGeneration, QueryCache
from expgraph.web.lists import ListIndex, ListSpec
from expgraph.web.run_page import SpecLabels
from expgraph.web.search import SearchIndex, SearchSpec


class WebState:
    """Store, settings, the query runner (started on first use) and the page caches of one app."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings
        #: The graphs this app's callers may read (access control narrows it; see :func:`web.sparql.scope_of`).
        self.scope: GraphScope = EVERYTHING
        self.queries = QueryCache(store)  # heavy aggregates: counts on the overview and in list columns
        self.lists: IndexCache[ListSpec, ListIndex] = IndexCache(store, ListIndex)
        self.search: IndexCache[SearchSpec, SearchIndex] = IndexCache(store, SearchIndex)
        self.spec_labels = SpecLabels()  # kept by the run's graph versions, finer than the generation
        #: Downsampled metric histories by (run, buckets) (:mod:`expgraph.web.charts`).
        self.charts: KeptByGeneration[tuple[str, int], dict[str, Any]] = KeptByGeneration(store, 256)
        #: Dashboards by project IRI (None: the whole catalog); counting every run costs ~17 ms per 1,000 runs.
        self.dashboards: KeptByGeneration[str | None, dict[str, Any]] = KeptByGeneration(store, 64)
        #: The SPARQL editor's completions (one entry).
        self.editor_terms: KeptByGeneration[None, dict[str, Any]] = KeptByGeneration(store, 1)
        self._runner: QueryRunner | None = None
        self._lock = threading.Lock()

    def runner(self) -> QueryRunner:
        """The app's runner, started on first use (its workers live as long as the app; see :meth:`close`)."""
        with self._lock:
            if self._runner is None:
                self._runner = runner_for(self.store, self.settings)
            return self._runner

    def close(self) -> None:
        """Stop the query workers (tests, shutdown); a later query starts them again."""
        with self._lock:
            runner, self._runner = self._runner, None
        if runner is not None:
            runner.close()


def state_of(where: Request | FastAPI) -> WebState:
    """The app's state, from a request or the app."""
    app = where.app if isinstance(where, Request) else where
    return app.state.web
