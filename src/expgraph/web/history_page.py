"""``/history?source=GRAPH``: a source graph's kept versions, and what changed between two of them.

The page shows the versions (when, by whom, size) and, by default, what changed from the previous version to the
active one; ``from`` and ``to`` (version ids, as listed) pick another pair. Both come from
:mod:`expgraph.source_history`; what changed between two versions never changes, so it is remembered per pair.
A graph the caller's scope hides is not found, like one the store does not hold.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pyoxigraph import NamedNode

from expgraph.source_history import changes, find_graph, history, pick
from expgraph.store import Store, StoreError
from expgraph.web.render import respond
from expgraph.web.sparql import scope_of
from expgraph.web.state import state_of

router = APIRouter()
#: Pairs of versions whose changes are remembered (each answer is small: run IRIs and property names).
_REMEMBERED = 64


class _Changes:
    """What changed between two versions, by pair of version IRIs (immutable, so never stale)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[str, str], dict] = OrderedDict()

    def get(self, store: Store, old: NamedNode, new: NamedNode) -> dict:
        """The changes from ``old`` to ``new``, computed once."""
        key = (old.value, new.value)
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        found = changes(store, old, new)
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > _REMEMBERED:
                self._kept.popitem(last=False)
        return found


def _remembered(request: Request) -> _Changes:
    app = request.app
    if not hasattr(app.state, "history_changes"):
        app.state.history_changes = _Changes()
    return app.state.history_changes


@router.get("/history", summary="A source graph's versions and what changed between two")
def history_page(request: Request, source: str, to: str | None = None) -> Response:
    """Versions of ``source`` (a graph IRI) newest first; runs added, removed and changed from ``from`` (default
    the previous version) to ``to`` (default the active one). ``?format=json`` for the data."""
    store = state_of(request).store
    chosen = request.query_params.get("from")
    try:
        graph = find_graph(store, source, store.visible_graphs(scope_of(request)))
        entries = history(store, graph)
        data: dict[str, object] = {"source": graph.value, "versions": [e.as_dict() for e in entries],
                                   "from": None, "to": None, "changes": None}
        if len(entries) > 1 or chosen or to:
            old, new = pick(entries, chosen, 1), pick(entries, to, 0)
            data.update({"from": old.id, "to": new.id,
                         "changes": _remembered(request).get(store, old.version.version, new.version.version)})
    except StoreError as error:
        return respond(request, "error.html", {"error": str(error), "iri": source}, status=404)
    return respond(request, "history.html", data)
