"""One query, start to end: check it (when it comes from outside), run it over the graphs it may read, serialise
the result in the negotiated format within the row and size caps. Every failure becomes an outcome with its HTTP
status, so that a worker process always has an answer to send back."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pyoxigraph import NamedNode, QueryTriples

from expgraph.formats import GRAPH, RESULTS, acceptable_default, media_types
from expgraph.sparql.formats import serialize
from expgraph.sparql.guard import CheckedQuery, QueryRefused, check_query, explain_syntax_error
from expgraph.store import Store, StoreError
from expgraph.store.base import Term
from expgraph.store.scope import EVERYTHING, GraphScope

MB = 2**20

#: The IRI rdflib's ``SPARQLStore`` sends as ``default-graph-uri`` for a plain ``Graph``'s default graph.
RDFLIB_DEFAULT = "urn:x-rdflib:default"


@dataclass(frozen=True)
class QueryJob:
    """One query to run. Graph lists are IRIs of logical graphs (or active versions); None means "not given"."""

    sparql: str
    accept: str | None = None
    bindings: dict[str, Term] = field(default_factory=dict)
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    untrusted: bool = True  # check with the guard (everything from outside the process, saved queries too)
    base: str | None = None  # the IRI relative IRIs resolve against when the query has no BASE (the endpoint's)
    max_rows: int = 10_000
    max_bytes: int = 32 * MB  # the serialised result's cap
    scope: GraphScope = EVERYTHING  # the graphs the caller may read


@dataclass(frozen=True)
class QueryOutcome:
    status: int
    body: bytes = b""
    media_type: str = "text/plain; charset=utf-8"
    truncated: bool = False
    rows: int = 0
    message: str = ""
    seconds: float = 0.0
    cached: bool = False
    retry_after: int | None = None  # seconds, when refused for lack of a free worker


def error_outcome(status: int, message: str) -> QueryOutcome:
    return QueryOutcome(status, (message + "\n").encode(), message=message)


def execute(store: Store, job: QueryJob) -> QueryOutcome:
    """Check, run and serialise one query on a store; every error becomes an outcome with its HTTP status."""
    started = time.perf_counter()
    result = None
    checked: CheckedQuery | None = None
    try:
        checked = check_query(job.sparql, job.base) if job.untrusted else None
        # exactly the text the guard checked, with logical graph names mapped to the active versions
        sparql = store.scoped(checked.text if checked else job.sparql, job.scope)
        default, named = _dataset(store, job, checked.from_graphs if checked else (),
                                  checked.from_named if checked else ())
        result = store.query(sparql, bindings=job.bindings, graphs=default, named_graphs=named, scope=job.scope)
        offered = media_types(GRAPH) if isinstance(result, QueryTriples) else media_types(RESULTS)
        # Nothing acceptable: answer in the default format rather than 406, as clients such as rdflib's
        # SPARQLStore ask for results formats even for CONSTRUCT and read the Content-Type of what comes back.
        media_type = acceptable_default(job.accept, offered)
        out = serialize(result, media_type, job.max_rows, rename=store.version_names(job.scope))
        if len(out.body) > job.max_bytes:
            return error_outcome(503, f"query stopped: its result is larger than the {job.max_bytes / MB:g} MB limit "
                               "(setting max_result_mb); select fewer rows or shorter values")
    except QueryRefused as refused:
        return error_outcome(refused.status, str(refused))
    except SyntaxError as error:
        return error_outcome(400, explain_syntax_error(checked, str(error)) if checked
                             else f"malformed query: {error}")
    except (StoreError, OSError, ValueError, RuntimeError) as error:
        return error_outcome(500, f"query failed: {error}")
    finally:
        del result  # pyoxigraph's results must be dropped on the thread that made them
    return QueryOutcome(200, out.body, out.media_type, out.truncated, out.rows,
                        seconds=time.perf_counter() - started)


def _dataset(store: Store, job: QueryJob, from_graphs: tuple[str, ...],
             from_named: tuple[str, ...]) -> tuple[list[NamedNode] | None, list[NamedNode] | None]:
    """Physical default and named graphs: the protocol's graph parameters, else FROM clauses, else (None: all
    active, which the store may answer faster than by listing them).

    Only graphs of this store may be named: nothing is ever fetched from elsewhere.
    """
    active = store.visible_graphs(job.scope)
    physical = {name: info.version for name, info in active.items()}
    physical.update({info.version.value: info.version for info in active.values()})

    everything = [info.version for info in active.values()]

    def resolve(names: tuple[str, ...]) -> list[NamedNode]:
        if RDFLIB_DEFAULT in names:  # rdflib's SPARQLStore names "the default graph" so; take it as the union
            return everything + resolve(tuple(name for name in names if name != RDFLIB_DEFAULT))
        unknown = [name for name in names if name not in physical]
        if unknown:
            raise QueryRefused(f"graph <{unknown[0]}> is not in this store; the endpoint never fetches remote "
                               "graphs (GET it without a query to see the graphs it holds)")
        return [physical[name] for name in names]

    if job.default_graphs is not None or job.named_graphs is not None:
        return resolve(job.default_graphs or ()), resolve(job.named_graphs or ())
    if from_graphs or from_named:
        return resolve(from_graphs), resolve(from_named)
    return None, None
