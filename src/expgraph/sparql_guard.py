"""Safety checks on a SPARQL request before anything runs: parse it, refuse updates and outbound requests.

The public endpoint is read-only and never talks to the network. pyoxigraph *does* fetch ``SERVICE`` clauses over
HTTP, so a query is parsed (with rdflib's SPARQL 1.1 grammar, not guessed at with regexes) and refused when it
contains ``SERVICE`` anywhere, or is an update (``LOAD``, ``INSERT``, ``DROP``, ...). ``FROM`` / ``FROM NAMED``
may only name graphs of this store (pyoxigraph never fetches them, but a "remote" graph name is a mistake worth
a clear message); the caller checks the names against the store, since only it knows them.

Parsing costs rdflib 20–50 ms per query, so the outcome is cached by query text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin

from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue


class QueryRefused(ValueError):
    """A request the endpoint will not run; ``status`` is the HTTP status to answer with (400 or 403)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CheckedQuery:
    """What the endpoint needs to know of a query that passed the checks."""

    form: str  # SELECT, ASK, CONSTRUCT or DESCRIBE
    from_graphs: tuple[str, ...]  # IRIs of FROM clauses
    from_named: tuple[str, ...]  # IRIs of FROM NAMED clauses


_FORMS = {"SelectQuery": "SELECT", "AskQuery": "ASK", "ConstructQuery": "CONSTRUCT", "DescribeQuery": "DESCRIBE"}


def check_query(text: str) -> CheckedQuery:
    """The query's form and dataset clauses; raises :class:`QueryRefused` for anything the endpoint refuses."""
    if not text.strip():
        raise QueryRefused("empty query")
    return _check_cached(text)


@lru_cache(maxsize=512)
def _check_cached(text: str) -> CheckedQuery:
    try:
        parsed = parseQuery(text)
    except Exception as query_error:  # pyparsing's ParseException, or rdflib's own errors (e.g. bad escapes)
        update = _parse_update(text)
        if update is not None and _contains(update, "Load"):
            raise QueryRefused("LOAD is refused: this endpoint never makes outbound requests, and is read-only") \
                from None
        if update is not None:
            raise QueryRefused("this endpoint is read-only: SPARQL updates (INSERT, DELETE, LOAD, CLEAR, DROP, "
                               "CREATE, ...) are refused", status=403) from None
        raise QueryRefused(f"malformed query: {_message(query_error)}") from None
    prologue, query = parsed[0], parsed[1]
    if _contains(query, "ServiceGraphPattern"):
        raise QueryRefused("SERVICE is refused: this endpoint never makes outbound requests")
    prefixes, base = _prologue(prologue)
    default, named = [], []
    for clause in query.get("datasetClause", []):
        if "default" in clause:
            default.append(_iri(clause["default"], prefixes, base))
        if "named" in clause:
            named.append(_iri(clause["named"], prefixes, base))
    return CheckedQuery(_FORMS.get(query.name, query.name), tuple(default), tuple(named))


def _parse_update(text: str) -> Any:
    try:
        return parseUpdate(text)
    except Exception:
        return None


def _message(error: Exception) -> str:
    if all(hasattr(error, name) for name in ("lineno", "col", "msg", "line")):  # pyparsing's ParseException
        where = getattr(error, "line", "").strip()[:80]
        return f"line {error.lineno}, column {error.col}: {error.msg}; near {where!r}"  # type: ignore[attr-defined]
    return str(error)


def _contains(node: Any, name: str) -> bool:
    """Whether a parse tree has a node of this name anywhere (sub-queries, OPTIONAL, UNION, EXISTS...)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, CompValue):
            if current.name == name:
                return True
            stack.extend(current.values())
        elif isinstance(current, list | tuple):
            stack.extend(current)
        elif hasattr(current, "asList") and not isinstance(current, str):
            stack.extend(list(current))
    return False


def _prologue(prologue: Any) -> tuple[dict[str, str], str]:
    prefixes: dict[str, str] = {}
    base = ""
    for decl in prologue or []:
        if decl.name == "Base":
            base = str(decl["iri"])
        elif decl.name == "PrefixDecl":
            prefixes[decl.get("prefix", "")] = str(decl["iri"])
    return prefixes, base


def _iri(term: Any, prefixes: dict[str, str], base: str) -> str:
    if isinstance(term, CompValue) and term.name == "pname":
        prefix = term.get("prefix", "")
        if prefix not in prefixes:
            raise QueryRefused(f"malformed query: undefined prefix {prefix!r}")
        return prefixes[prefix] + term.get("localname", "")
    return urljoin(base, str(term)) if base else str(term)
