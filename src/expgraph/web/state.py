"""The one app-state object: what an app serves (store, settings) and what it keeps (query runner, caches).

One per app, at ``app.state.web``: the caches are kept by the store's generation
(:meth:`~expgraph.store.base.Store.generation`) and belong to the app, so two apps (or two stores) never share an
entry, and nothing is kept in module globals.

Pages are built for one caller: :func:`reader_of` gives the state as that caller may read it, whose store is a
:class:`~expgraph.store.view.ScopedView` and whose caches are its own (one child state per scope), so a page
builder reads within the caller's scope without knowing it has one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from fastapi import FastAPI, Request

from expgraph.settings import Settings
from expgraph.sparql.runner import QueryRunner, runner_for
from expgraph.store import EVERYTHING, GraphScope, Store
from expgraph.store.view import ScopedView
from expgraph.team.projects import RestrictionCache
from expgraph.team.tokens import Token
from expgraph.web.cache import IndexCache, QueryCache
from expgraph.web.lists import ListIndex, ListSpec
from expgraph.web.run_page import SpecLabels
from expgraph.web.search import SearchIndex, SearchSpec

#: Child states kept per scope (each holds its own list and search indexes): callers fall into few scopes.
_SCOPES_KEPT = 16


class WebState:
    """Store, settings, the query runner (started on first use) and the page caches of one app; or, made by
    :meth:`within`, the same for the callers of one scope (its store a scoped view, the runner the app's)."""

    def __init__(self, store: Store, settings: Settings, parent: WebState | None = None) -> None:
        self.store, self.settings, self.parent = store, settings, parent
        #: The graphs this app's callers may read at most (private projects narrow it per caller: scope_for).
        self.scope: GraphScope = EVERYTHING
        self.restrictions = RestrictionCache(store)
        self._children: OrderedDict[GraphScope, WebState] = OrderedDict()
        self.queries = QueryCache(store)  # heavy aggregates: counts on the overview and in list columns
        self.lists: IndexCache[ListSpec, ListIndex] = IndexCache(store, ListIndex)
        self.search: IndexCache[SearchSpec, SearchIndex] = IndexCache(store, SearchIndex)
        self.spec_labels = SpecLabels()  # kept by the run's graph versions, finer than the generation
        self._runner: QueryRunner | None = None
        self._lock = threading.Lock()

    def scope_for(self, token: Token | None) -> GraphScope:
        """The graphs a caller with this token (None: anonymous) may read: the app's scope less the graphs of the
        restricted projects the token does not name (see :mod:`expgraph.team.projects`)."""
        return self.restrictions.scope(token, self.settings.base_iri, self.scope)

    def within(self, scope: GraphScope) -> WebState:
        """The state as callers in ``scope`` read it: this one when the scope is the app's, else a child whose store
        is a :class:`ScopedView` and whose caches are its own, kept for the next caller in the same scope."""
        if scope == self.scope:
            return self
        with self._lock:
            child = self._children.get(scope)
            if child is None:
                child = self._children[scope] = WebState(ScopedView(self.store, scope), self.settings, self)
                child.scope = scope
                while len(self._children) > _SCOPES_KEPT:
                    self._children.popitem(last=False)
            self._children.move_to_end(scope)
            return child

    def runner(self) -> QueryRunner:
        """The app's runner, started on first use (its workers live as long as the app; see :meth:`close`)."""
        if self.parent is not None:  # one runner per app: each job carries its caller's scope
            return self.parent.runner()
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


def reader_of(request: Request) -> WebState:
    """The app's state as the caller of ``request`` may read it: what every page route hands its builder."""
    state = state_of(request)
    return state.within(state.scope_for(getattr(request.state, "token", None)))
